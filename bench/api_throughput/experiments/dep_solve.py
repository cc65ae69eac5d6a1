"""What solving a route's dependencies costs the framework: FastAPI's solver vs the plan.

    python -m bench.api_throughput.experiments.dep_solve --rounds 7 --n 5000

No database and no server. The app is built (its routes as served) and, for the bench's
two routes (``GET /api/admin/bookings/{booking_id}`` and ``GET /api/admin/bookings``),
the route's own ``Dependant`` tree is copied with every dependency's call replaced by a
trivial coroutine (one per original call, so the request cache behaves the same). What is
timed is then the solver's own work on that tree for the bench's request (its path id,
``?limit=20``, its headers and cookies): the tree walk, cache keys, parameter reading and
validation, ``Response``/``SolvedDependency``, the calls themselves (trivial). Each way
(``fastapi``: ``fastapi.dependencies.utils.solve_dependencies``; ``plan``:
``tenantry.kit.dep_plan.DependencyPlan.solve``) runs ``--n`` solves per round, ways
interleaved, best and median of ``time.process_time()`` per solve in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

ROUTES = {
    "read": ("/api/admin/bookings/{booking_id}", "", {"booking_id": str(uuid.uuid4())}),
    "list": ("/api/admin/bookings", "limit=20", {}),
}


def _app() -> Any:
    os.environ.setdefault("TENANTRY_ALLOWED_HOSTS", "127.0.0.1")
    from sqlalchemy.engine import make_url

    from tenantry.app import create_app
    from tenantry.db.bootstrap import DatabaseUrls
    from tenantry.db.engine import Database
    from tenantry.settings import Settings

    url = make_url("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    fields = {f.name for f in dataclasses.fields(DatabaseUrls)}
    kw: dict[str, Any] = {k: None for k in fields}
    kw.update(admin=url, migrator=url, app=url, worker=url)
    kw.update(database="none", migrator_role="m", app_role="a")
    keys = "bench-key-one-0123456789abcdef0123,bench-key-two-0123456789abcdef0123"
    settings = Settings(data_dir=tempfile.mkdtemp(), secret_keys=keys)
    return create_app(settings, Database(DatabaseUrls(**kw)))


def _stubbed(dependant: Any) -> Any:
    calls: dict[int, Any] = {}

    def walk(node: Any, root: bool) -> Any:
        children = [walk(d, False) for d in node.dependencies]
        call = node.call
        if not root:
            if id(call) not in calls:

                async def stub(**_: Any) -> None:
                    return None

                calls[id(call)] = stub
            call = calls[id(call)]
        return dataclasses.replace(node, dependencies=children, call=call)

    return walk(dependant, True)


HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"user-agent", b"wrk"),
    (b"cookie", b"tenantry_session=abc.def.ghi; tenant_sig=jkl.mno"),
]


async def _run(
    solve: Any, n: int, tree: Any, path: str, query: str, path_params: dict[str, str]
) -> float:
    from starlette.requests import Request

    started = time.process_time()
    for _ in range(n):
        async with AsyncExitStack() as stack:
            scope = {
                "type": "http", "method": "GET", "path": path, "root_path": "",
                "query_string": query.encode(), "headers": HEADERS,
                "path_params": dict(path_params), "fastapi_inner_astack": stack,
                "fastapi_function_astack": stack,
            }  # fmt: skip
            solved = await solve(
                request=Request(scope), dependant=tree, body=None,
                dependency_overrides_provider=None, async_exit_stack=stack,
                embed_body_fields=False,
            )  # fmt: skip
            assert not solved.errors, solved.errors
    return (time.process_time() - started) / n * 1e6


class _NoErrors:
    errors: list[Any] = []


_NO_ERRORS = _NoErrors()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    from fastapi.dependencies.utils import solve_dependencies
    from fastapi.routing import iter_route_contexts

    from tenantry.kit.dep_plan import DependencyPlan

    app = _app()
    contexts = {
        rc.path: rc for rc in iter_route_contexts(app.routes) if "GET" in (rc.methods or ())
    }
    results: dict[str, dict[str, list[float]]] = {}
    for scenario, (path, query, path_params) in ROUTES.items():
        tree = _stubbed(contexts[path].dependant)
        plan = DependencyPlan.build(tree)

        # a request's cost without solving (scope, Request, exit stack): subtracted
        async def nothing(**_: Any) -> Any:
            return _NO_ERRORS

        ways = {"base": nothing, "fastapi": solve_dependencies, "plan": plan.solve}
        got: dict[str, list[float]] = {w: [] for w in ways}
        for r in range(args.rounds):
            order = list(ways) if r % 2 == 0 else list(reversed(ways))
            for way in order:
                got[way].append(
                    asyncio.run(_run(ways[way], args.n, tree, path, query, path_params))
                )
        results[scenario] = got
    print(f"us of CPU per solve, best (median) of {args.rounds} x {args.n}, load {os.getloadavg()}")
    for scenario, got in results.items():
        base = min(got["base"])
        cells = [
            f"{w} {min(v) - base:.1f} ({statistics.median(v) - statistics.median(got['base']):.1f})"
            for w, v in got.items()
            if w != "base"
        ]
        print(f"  {scenario}: " + "  ".join(cells) + f"  [request overhead {base:.1f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

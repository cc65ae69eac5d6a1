"""Where a served worker's Python CPU goes, by part: a raw ``py-spy record --gil``
profile (``served.py --spy DIR``) sorted into parts by each sample's deepest frame that
names one (``PARTS``, first match wins), then the top leaf functions.

    python -m bench.api_throughput.experiments.spy_parts DIR/t0-read.raw

A sample is one stack with the GIL held, so the shares are of Python CPU (a write to a
socket holding the GIL counts; waits do not). Parts are rough: a frame names its file.
"""

from __future__ import annotations

import collections
import sys

PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("database unit (SQLAlchemy, psycopg, unit, pin)",
     ("sqlalchemy/", "psycopg", "tenantry/db/", "RequestUnit", "greenlet", "pin.py",
      "repository.py")),
    ("request log line (structlog)", ("structlog/",)),
    ("dependencies (auth, quotas, plan)",
     ("dep_plan.py", "solve_dependencies", "tenantry/auth/", "tenant_gate", "quotas/limiter",
      "signing.py", "quotas/dependency")),
    ("response validation and JSON",
     ("serialize_response", "dump_json", "model_validate", "jsonable_encoder", "JSONResponse",
      "Response.__init__", "Response.render", "init_headers")),
    ("metrics and traffic", ("prometheus_client", "_record", "recorder.py", "metrics.py")),
    ("routing", ("route_index", "matches (", "_match (", "Route.matches")),
    ("ASGI middleware layers",
     ("isolation/middleware", "observability/middleware", "starlette/middleware",
      "fastapi/middleware", "_body_limit", "telemetry/", "_exception_handler", "quotas/gate",
      "csrf.py", "kit/body_limit", "idempotency/middleware", "applications.py")),
    ("FastAPI/Starlette request handling",
     ("fastapi/routing.py", "starlette/routing.py", "starlette/requests",
      "starlette/responses", "starlette/datastructures")),
    ("uvicorn (HTTP parsing, socket writes)", ("uvicorn/",)),
]  # fmt: skip


def parts(path: str) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    total = 0
    by_part: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for line in open(path):  # noqa: SIM115
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaves[frames[-1].rsplit(":", 1)[0]] += n
        part = "other"
        for frame in reversed(frames):
            found = next((name for name, keys in PARTS if any(k in frame for k in keys)), None)
            if found:
                part = found
                break
        by_part[part] += n
    return total, by_part, leaves


def main(argv: list[str]) -> int:
    for path in argv:
        total, by_part, leaves = parts(path)
        print(f"{path}: {total} samples (GIL held)")
        for name, n in by_part.most_common():
            print(f"  {100 * n / total:5.1f}%  {name}")
        print("  top leaf functions:")
        for name, n in leaves.most_common(15):
            print(f"    {100 * n / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

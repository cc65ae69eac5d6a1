"""CPU per request through the real ASGI app, in process (no server, no wrk), trees A/B.

    python -m bench.api_throughput.experiments.inproc TREE [TREE ...] --rounds 4 --n 600
    python -m bench.api_throughput.experiments.inproc . --rounds 1 --profile /tmp/prof --layers

Each TREE is a checkout (its ``src`` goes first on ``PYTHONPATH``); ``TREE@NAME=VALUE&...``
adds environment variables to that side. The bench database and data are set up once
(as ``python -m bench.api_throughput`` does, without the filler); each round then runs one
child process per tree (order reversed every other round), which logs in, keeps the
re-issued cookie (as a browser would), and drives ``healthz``, ``read`` and ``list``
(``-k`` at a time on one event loop). A child reports the best of 3 x ``--n`` of
``time.process_time()`` per request. The table gives the best and the median over rounds
and the 1-minute load average before each child: with 2 shared cores, compare only
interleaved figures, and only differences well outside the spread between rounds.

``--profile PREFIX`` writes, per scenario, a profile of 300 more requests (yappi with CPU
clock when it is importable, else cProfile): ``PREFIX-<scenario>.txt``, by inclusive time,
with calls per request. Profilers inflate call-heavy code; use the shares, not the times.
``--layers`` prints what each of the app's own middlewares costs on a GET when it wraps a
trivial app (best of 7 x 4000).

Experiment switches (upper bounds, never served this way): ``INPROC_STRIP=Name,Name``
removes those middlewares from the app (the sum of their cost).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIOS = ("healthz", "read", "list")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="checkouts to compare (TREE or TREE@ENV=V)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--n", type=int, default=600, help="requests per timed run")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("-k", type=int, default=4, help="requests in flight")
    parser.add_argument("--profile", help="write profiles to PREFIX-<scenario>.txt")
    parser.add_argument("--layers", action="store_true", help="cost of each own middleware")
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default=_default_loop(), help="event loop"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    return _parent(args)


def _default_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _parent(args: argparse.Namespace) -> int:
    from bench.api_throughput.data import seed
    from bench.api_throughput.main import _env
    from bench.isolation_overhead.server import bench_database
    from tenantry.db.engine import Database

    data_dir = Path(tempfile.mkdtemp(prefix="inproc-"))
    with bench_database(data_dir=data_dir) as urls:
        db = Database(urls)
        try:
            read = seed(db, bookings=200, label="read")
        finally:
            db.dispose()
        cfg = {
            "env": _env(urls, data_dir)["tenantry"],
            "login": {
                "email": read.owner_email,
                "password": "bench-password-0",
                "tenant": read.slug,
            },
            "paths": {
                "healthz": "/healthz",
                "read": f"/api/admin/bookings/{read.booking_id}",
                "list": "/api/admin/bookings?limit=20",
            },
        }
        cfg_file = data_dir / "inproc.json"
        cfg_file.write_text(json.dumps(cfg))
        rows: dict[str, list[dict[str, float]]] = {t: [] for t in args.trees}
        for r in range(args.rounds):
            for tree in args.trees if r % 2 == 0 else list(reversed(args.trees)):
                res = _run_child(args, tree, cfg_file)
                rows[tree].append(res)
                shown = " ".join(f"{k} {v:.3f}" for k, v in res.items() if k != "load")
                print(f"round {r} {tree[-50:]:50} load {res['load']:.1f}  {shown}", flush=True)
    scenarios = args.scenarios.split(",")
    print(f"CPU ms per request ({args.loop} loop), best (median) over rounds:")
    for tree in args.trees:
        cells = []
        for s in scenarios:
            values = sorted(x[s] for x in rows[tree])
            cells.append(f"{s} {values[0]:.3f} ({values[len(values) // 2]:.3f})")
            spent = sorted(x.get(f"gc:{s}", float("nan")) for x in rows[tree])
            cells.append(f"[gc {spent[len(spent) // 2]:.3f}]")
        print(f"  {tree}: " + "  ".join(cells))
    print(f"load average at the end: {os.getloadavg()}")
    return 0


def _run_child(args: argparse.Namespace, tree: str, cfg_file: Path) -> dict[str, float]:
    path, _, extra = tree.partition("@")
    root = Path(path).resolve()
    env = {**os.environ, **dict(kv.split("=", 1) for kv in extra.split("&") if kv)}
    # the tree's code first (an editable install may point elsewhere), then any path given
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(root / "src"), str(root), env.get("PYTHONPATH", "")])
    )
    load = os.getloadavg()[0]
    cmd = [
        sys.executable,
        "-m",
        "bench.api_throughput.experiments.inproc",
        path,
        "--child",
        str(cfg_file),
        "--n",
        str(args.n),
        "--scenarios",
        args.scenarios,
        "-k",
        str(args.k),
        "--loop",
        args.loop,
    ]
    if args.profile:
        cmd += ["--profile", args.profile]
    if args.layers:
        cmd += ["--layers"]
    done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=False)
    found = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    for line in done.stdout.splitlines():
        if line.startswith("LAYER "):
            print(line[6:])
    if not found:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"{tree}: the child failed")
    result: dict[str, float] = json.loads(found[0][len("RESULT ") :])
    result["load"] = load
    return result


def _child(args: argparse.Namespace) -> int:
    cfg = json.loads(Path(args.child).read_text())
    os.environ.update(cfg["env"])
    from fastapi.testclient import TestClient

    from tenantry.wsgi import app_from_env

    app = app_from_env()
    strip = [name for name in os.environ.get("INPROC_STRIP", "").split(",") if name]
    if strip:  # an upper bound of what these layers cost; never served this way
        app.user_middleware = [
            m for m in app.user_middleware if getattr(m.cls, "__name__", "") not in strip
        ]
        app.middleware_stack = None
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.post("/api/auth/login", json=cfg["login"]).raise_for_status()
        # one request, so the cookie replayed is the one a browser holds now
        client.get(cfg["paths"]["read"]).raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    driver = _Driver(app, cookie, args.k)
    out = _loop_run(driver.run(cfg["paths"], args), args.loop)
    app.state.db.dispose()
    print("RESULT " + json.dumps(out), flush=True)
    return 0


def _loop_run(coro: Any, loop: str) -> Any:
    """Run on the event loop a served worker uses: uvicorn picks uvloop when it is
    installed (``--loop asyncio`` forces the standard loop, whose selector and handle
    work per socket wait is much dearer)."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


class _GcClock:
    """CPU spent in the cyclic garbage collector (``gc.callbacks``), in seconds: the
    collector runs inside whichever allocation crosses its threshold, so a profile
    spreads its cost over unrelated lines."""

    def __init__(self) -> None:
        import gc

        self.spent = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.spent += time.process_time() - self._started


class _Driver:
    def __init__(self, app: Any, cookie: str, k: int) -> None:
        self.app, self.cookie, self.k = app, cookie, k

    def scope(self, target: str) -> dict[str, Any]:
        path, _, query = target.partition("?")
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"user-agent", b"wrk"),
                (b"cookie", self.cookie.encode()),
            ],
            "client": ("127.0.0.1", 5555),
            "server": ("127.0.0.1", 8000),
        }

    async def one(self, target: str) -> None:
        status = [0]
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        await self.app(self.scope(target), receive, send)
        if status[0] != 200:
            raise RuntimeError(f"{target} -> {status[0]}")

    async def drive(self, target: str, n: int) -> None:
        async def worker(count: int) -> None:
            for _ in range(count):
                await self.one(target)

        await asyncio.gather(*(worker(n // self.k) for _ in range(self.k)))

    async def run(self, paths: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
        out: dict[str, float] = {}
        gc_clock = _GcClock()
        async with self.app.router.lifespan_context(self.app):
            if args.layers:
                await self.layers(paths["read"])
                self.routing(paths)
            for s in args.scenarios.split(","):
                await self.drive(paths[s], 200)  # warm: caches, prepared statements
                runs = []
                for _ in range(3):
                    started = time.process_time()
                    gc_before = gc_clock.spent
                    await self.drive(paths[s], args.n)
                    runs.append(1000 * (time.process_time() - started) / args.n)
                    gc_ms = 1000 * (gc_clock.spent - gc_before) / args.n
                    if len(runs) == 1 or runs[-1] == min(runs):
                        out[f"gc:{s}"] = gc_ms
                out[s] = min(runs)
                if args.profile:
                    await self.profile(paths[s], Path(f"{args.profile}-{s}.txt"), s)
        return out

    async def layers(self, target: str) -> None:
        async def inner(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            return None

        base = 0.0
        for mw in [None, *self.app.user_middleware]:
            app = inner if mw is None else mw.cls(inner, *mw.args, **mw.kwargs)
            best = float("inf")
            for _ in range(7):
                started = time.process_time()
                for _ in range(4000):
                    await app({**self.scope(target), "app": self.app, "state": {}}, receive, send)
                best = min(best, (time.process_time() - started) / 4000 * 1e6)
            name = "(trivial app alone)" if mw is None else mw.cls.__name__
            base = base or best
            print(f"LAYER {name:28} {best:6.2f} us  (+{best - base:5.2f})", flush=True)

    def routing(self, paths: dict[str, str]) -> None:
        """What finding the route costs: the app's nodes asked in order until one matches
        fully, and that node's own search (FastAPI runs it again in ``handle``)."""
        from starlette.routing import Match

        routes = self.app.router.routes

        def resolve(path: str) -> int:
            scope = {**self.scope(path), "app": self.app}
            for i, route in enumerate(routes):
                match, child = route.matches(scope)
                if match == Match.FULL:
                    if hasattr(route, "_match"):
                        route._match({**scope, **child})
                    return i
            return -1

        for name, target in paths.items():
            path = target.partition("?")[0]
            node = resolve(path)
            best = float("inf")
            for _ in range(7):
                started = time.process_time()
                for _ in range(4000):
                    resolve(path)
                best = min(best, (time.process_time() - started) / 4000 * 1e6)
            print(f"LAYER routing {name:8} node {node} of {len(routes)}: {best:6.2f} us")

    async def profile(self, target: str, out: Path, scenario: str) -> None:
        n = 300
        try:
            import yappi  # type: ignore[import-not-found]
        except ImportError:
            yappi = None
        if yappi is None:
            prof = cProfile.Profile()
            prof.enable()
            await self.drive(target, n)
            prof.disable()
            with out.open("w") as f:
                stats = pstats.Stats(prof, stream=f)
                f.write(f"{scenario}: cProfile, {n} requests\n")
                stats.sort_stats("cumulative").print_stats(150)
            return
        yappi.clear_stats()
        yappi.set_clock_type("cpu")
        yappi.start(builtins=True)
        await self.drive(target, n)
        yappi.stop()
        stats = yappi.get_func_stats()
        total = sum(f.tsub for f in stats)
        lines = [
            f"{scenario}: yappi cpu, {n} requests, {sum(f.ncall for f in stats) // n} calls "
            f"per request (a coroutine's every resumption counts), profiled "
            f"{1000 * total / n:.3f} ms per request"
        ]
        for f in sorted(stats, key=lambda f: -f.ttot)[:400]:
            module = f.module.split("site-packages/")[-1]
            lines.append(
                f"{100 * f.ttot / total:6.1f}% incl {100 * f.tsub / total:5.1f}% own "
                f"{f.ncall / n:6.1f}/req {f.name} {module}:{f.lineno}"
            )
        out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

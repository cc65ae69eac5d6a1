"""Client CPU of one round trip on psycopg, by how the client waits for the server.

    python -m bench.api_throughput.experiments.wait_cost [--n 3000] [--rounds 5]

One ``SELECT 1`` (extended protocol, prepared after the first few, as psycopg does),
on one connection as the app role, in autocommit: on the blocking connection (libpq
waits in C), on the ``AsyncConnection`` awaited in a coroutine (what the bare endpoint
does), the same through SQLAlchemy's greenlet bridge (``await_`` in ``greenlet_spawn``,
as the unit's statements wait), and the statement's generator driven in the greenlet
with each wait done on one future the fd's reader resolves (``execute_in_greenlet``
below: a prototype, not in ``tenantry``).
Best and median of ``--rounds`` x ``--n`` of ``time.process_time()`` per statement, ways
interleaved; uvloop unless ``--loop asyncio``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import waiting
from psycopg._enums import Ready, Wait
from sqlalchemy.util.concurrency import await_, greenlet_spawn

from bench.isolation_overhead.server import bench_database


def per_call(fn: Callable[[], Any], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) / n * 1e6


async def per_call_async(fn: Callable[[], Any], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        await fn()
    return (time.process_time() - started) / n * 1e6


def _readable(fileno: int) -> Any:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fileno, wake)
    fut.add_done_callback(lambda _: loop.remove_reader(fileno))
    return fut


def execute_in_greenlet(conn: psycopg.AsyncConnection[Any], sql: str, params: Any) -> Any:
    """The cursor's generator driven here; each wait for the server one future."""
    cur = conn.cursor()
    gen = cur._execute_gen(sql, params)
    fileno = conn.pgconn.socket
    try:
        state = next(gen)
        while True:
            if state & Wait.W:
                state = gen.send(waiting._ready(fileno, state) or Ready.W)
                continue
            await_(_readable(fileno))
            state = gen.send(Ready.R)
    except StopIteration:
        pass
    res = cur._check_result_for_fetch()
    return cur._tx.load_row(0, cur._make_row) if res.ntuples else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="wait-cost-"))
    load_before = os.getloadavg()
    with bench_database(data_dir=data_dir) as urls:
        dsn = urls.serving.set(drivername="postgresql").render_as_string(hide_password=False)
        sql = "SELECT 1"

        async def run() -> dict[str, list[float]]:
            sync = psycopg.Connection.connect(dsn, autocommit=True)
            aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)

            def blocking() -> Any:
                return sync.execute(sql).fetchone()

            async def direct() -> Any:
                cur = await aconn.execute(sql)
                return await cur.fetchone()

            def bridged() -> Any:
                cur = await_(aconn.execute(sql))
                return await_(cur.fetchone())

            def own_wait() -> Any:
                return execute_in_greenlet(aconn, sql, None)

            out: dict[str, list[float]] = {}
            for _ in range(50):
                blocking()
                await direct()
                await greenlet_spawn(bridged)
                await greenlet_spawn(own_wait)
            ways = ("blocking", "async direct", "async via await_", "greenlet own wait")
            for r in range(args.rounds):
                for name in ways if r % 2 == 0 else tuple(reversed(ways)):
                    if name == "blocking":
                        value = per_call(blocking, args.n)
                    elif name == "async direct":
                        value = await per_call_async(direct, args.n)
                    elif name == "async via await_":
                        value = await greenlet_spawn(per_call, bridged, args.n)
                    else:
                        value = await greenlet_spawn(per_call, own_wait, args.n)
                    out.setdefault(name, []).append(value)
            sync.close()
            await aconn.close()
            return out

        if args.loop == "uvloop":
            import uvloop

            out = uvloop.run(run())
        else:
            out = asyncio.run(run())
    print(f"client CPU per SELECT 1, us ({args.loop}; {args.rounds} x {args.n}): best (median)")
    for name, runs in out.items():
        ordered = sorted(runs)
        print(f"  {name:20} {ordered[0]:6.1f} ({ordered[len(ordered) // 2]:6.1f})")
    print(f"load average before {load_before}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

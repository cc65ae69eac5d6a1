"""Client CPU per unit of the isolation bench's variants, with the pin sent two ways.

    python -m bench.isolation_overhead.pin_cpu [--rows 50000] [--tenants 200]
        [--rounds 2000] [--blocks 4] [--queries point_lookup,count] [--calls]

The bench's own ``Runner`` (loop driver: each unit in a greenlet on uvloop, psycopg
async) on a bench database of its own, plus variants of ``set`` and ``walls`` on app
engines built the way main was before session 11: ``*_await`` on psycopg's plain
``AsyncConnection`` (the dialect sends its BEGIN message with an await of its own,
``send_begin_async``) and a pool that resets every returned connection with psycopg's
rollback (an await, even when the server is idle); ``*_noskip`` with the BEGIN inside
the first statement's wait (``PinningAsyncConnection``) but that reset kept, so the two
changes are measured apart. Every round runs every variant once, in random order, on
the same tenant; blocks run on new connections. Printed per variant: the median client
CPU (``time.process_time_ns`` around the unit) and wall per unit, and the median of the
per-round ratios to ``off`` (``aa`` is ``off`` again: the noise floor). ``--calls``: the
Python calls per unit (cProfile, 200 units each) instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import time
import types
from typing import Any

import psycopg
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.orm import sessionmaker

from bench.isolation_overhead import workload
from bench.isolation_overhead.data import load
from bench.isolation_overhead.server import bench_database
from bench.isolation_overhead.workload import QUERIES, Runner
from tenantry.db.engine import loop_app_engine
from tenantry.isolation.guard import GuardedSession
from tenantry.isolation.pin import PinningAsyncConnection

# name: (base variant, BEGIN inside the first statement, skip the idle reset)
EXTRA = {
    "set_await": ("set", False, False),
    "walls_await": ("walls", False, False),
    "walls_noskip": ("walls", True, False),
}
VARIANTS = ("off", "aa", "set", "set_await", "rls", "walls", "walls_await", "walls_noskip")


def _add_awaited(runner: Runner, urls: Any) -> None:
    """The ``EXTRA`` variants, each on an engine of its own."""
    for name, (base, in_statement, skip) in EXTRA.items():
        args: dict[str, Any] = {"options": "-c synchronous_commit=off"}
        if not in_statement:
            args["async_creator_fn"] = psycopg.AsyncConnection.connect
        kw: dict[str, Any] = {"pool_size": 2, "max_overflow": 0, "connect_args": args}
        url = urls.app if base == "walls" else urls.migrator
        engine = loop_app_engine(url, **kw)
        if not skip:  # the pool's reset-on-return always through psycopg's rollback
            dialect: Any = engine.sync_engine.dialect
            dialect.do_rollback = types.MethodType(DefaultDialect.do_rollback, dialect)
        runner._async[name] = engine  # type: ignore[index]
        runner.engines[name] = engine.sync_engine  # type: ignore[index]
        runner._factories[name] = sessionmaker(  # type: ignore[index]
            engine.sync_engine,
            class_=GuardedSession if base == "walls" else workload.Session,
            expire_on_commit=False,
        )
        workload._BASE[name] = base  # type: ignore[index]


def _check_kinds(runner: Runner) -> None:
    """Each engine's connections are of the kind its variant says."""
    for name in ("set", "walls", *EXTRA):
        engine = runner.engines[name]  # type: ignore[index]

        def kind(engine: Any = engine) -> type:
            with engine.connect() as conn:
                return type(conn.connection.driver_connection)

        got = runner._sync(kind)
        want_pinning = name in ("set", "walls") or EXTRA[name][1]
        assert (got is PinningAsyncConnection) == want_pinning, (name, got)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--queries", default="point_lookup")
    parser.add_argument("--calls", action="store_true")
    args = parser.parse_args(argv)
    queries = [q for q in QUERIES if q.name in args.queries.split(",")]
    rng = random.Random(7)
    with bench_database() as urls:
        dataset = load(
            urls,
            rows=args.rows,
            tenants=args.tenants,
            zipf_s=1.0,
            large=3,
            small=20,
            lookups=50,
            log=False,
        )
        runner = Runner(urls, "loop")
        _add_awaited(runner, urls)
        try:
            _check_kinds(runner)
            tenants = dataset.large + dataset.small
            for query in queries:
                if args.calls:
                    _calls(runner, query, tenants)
                    continue
                _timed(runner, query, tenants, args, rng)
        finally:
            runner.dispose()
    return 0


def _timed(runner: Runner, query: Any, tenants: list[Any], args: Any, rng: random.Random) -> None:
    cpu: dict[str, list[int]] = {v: [] for v in VARIANTS}
    wall: dict[str, list[int]] = {v: [] for v in VARIANTS}
    per_block = args.rounds // args.blocks
    load = [os.getloadavg()[0]]
    for block in range(args.blocks):
        if block:
            runner.recycle()
        for step in range(per_block + 10):
            tenant = tenants[rng.randrange(len(tenants))]
            order = list(VARIANTS)
            rng.shuffle(order)
            for v in order:
                c0 = time.process_time_ns()
                w = runner.timed(query, v, tenant, step)  # type: ignore[arg-type]
                c = time.process_time_ns() - c0
                if step >= 10:
                    cpu[v].append(c)
                    wall[v].append(w)
        load.append(os.getloadavg()[0])
    print(f"{query.name}: {args.rounds} rounds in {args.blocks} blocks, load {load}")
    print(f"  {'variant':<12} {'cpu us':>8} {'cpu/off':>8} {'wall us':>8} {'wall/off':>8}")
    for v in VARIANTS:
        c_ratio = statistics.median(a / b for a, b in zip(cpu[v], cpu["off"], strict=True))
        w_ratio = statistics.median(a / b for a, b in zip(wall[v], wall["off"], strict=True))
        print(
            f"  {v:<12} {statistics.median(cpu[v]) / 1000:8.1f} {c_ratio:8.3f}"
            f" {statistics.median(wall[v]) / 1000:8.1f} {w_ratio:8.3f}"
        )
    pairs = (("set", "set_await"), ("walls", "walls_await"), ("walls", "walls_noskip"))
    pairs += (("walls_noskip", "walls_await"),)
    for new, old in pairs:
        r = statistics.median(a / b for a, b in zip(cpu[new], cpu[old], strict=True))
        w = statistics.median(a / b for a, b in zip(wall[new], wall[old], strict=True))
        print(f"  {new}/{old}: cpu {r:.3f}, wall {w:.3f} (median of per-round ratios)")


def _calls(runner: Runner, query: Any, tenants: list[Any]) -> None:
    for v in VARIANTS:
        for i in range(20):
            runner.timed(query, v, tenants[i % len(tenants)], i)  # type: ignore[arg-type]
        profile = cProfile.Profile()
        profile.enable()
        for i in range(200):
            runner.timed(query, v, tenants[i % len(tenants)], i)  # type: ignore[arg-type]
        profile.disable()
        calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        print(f"{query.name} {v:<12} {calls / 200:7.1f} calls per unit")


if __name__ == "__main__":
    raise SystemExit(main())

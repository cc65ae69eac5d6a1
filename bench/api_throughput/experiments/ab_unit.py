"""A/B of two Tenantry trees against the bare endpoint, interleaved in one run.

    python -m bench.api_throughput.experiments.ab_unit --base-src /tmp/base/src \
        --seconds 4 --rounds 3 --scenarios read,list

``base`` serves the tree at ``--base-src`` (say, main before a change: ``git archive``
it into a folder), ``this`` serves this checkout's ``src``, ``bare`` the least code that
serves the same row (``bench.api_throughput.bare``). Each round runs every scenario on
each side in a shuffled order, one ``wrk -c8`` run each, and records per request what
the server process spent (CPU, voluntary and involuntary context switches) and the
1-minute load average. The same data and cookies as ``python -m bench.api_throughput``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.api_throughput import usage
from bench.api_throughput.data import seed_bench
from bench.api_throughput.load import run_wrk
from bench.api_throughput.main import _cookie_of, _env, _requests, browser_cookies
from bench.api_throughput.servers import Spec, serve
from bench.isolation_overhead.server import bench_database
from tenantry.db.engine import Database

THIS_SRC = Path(__file__).resolve().parents[3] / "src"
SIDES = ("base", "this", "bare")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", required=True, help="the src folder of the base tree")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="read,list")
    parser.add_argument("--filler", type=int, default=20_000)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args(argv)
    scenarios = args.scenarios.split(",")
    work = Path(tempfile.mkdtemp(prefix="ab-unit-", dir=args.work_dir))
    rows: list[dict[str, Any]] = []
    (work / "data").mkdir()
    with bench_database(data_dir=work / "data") as urls:
        db = Database(urls)
        read, write = seed_bench(db, bookings=200, filler=args.filler)
        db.dispose()
        env = _env(urls, work / "data")
        # PYTHONPATH first on sys.path: each side imports tenantry from its own tree.
        specs = [
            Spec("base", ["tenantry.wsgi:app_from_env", "--factory"],
                 {**env["tenantry"], "PYTHONPATH": args.base_src}),
            Spec("this", ["tenantry.wsgi:app_from_env", "--factory"],
                 {**env["tenantry"], "PYTHONPATH": str(THIS_SRC)}),
            Spec("bare", ["bench.api_throughput.bare:app_from_env", "--factory"], env["bare"]),
        ]  # fmt: skip
        (work / "logs").mkdir()
        with serve(specs, work / "logs") as servers:
            cookies = {"read": _cookie_of(servers["base"].base, read),
                       "write": _cookie_of(servers["base"].base, write)}  # fmt: skip
            asks = _requests(read, write, cookies, 20)
            for scenario in scenarios:  # warm every side
                for side in SIDES:
                    ask = asks[scenario]["bare" if side == "bare" else "tenantry"]
                    run_wrk(servers[side].base, ask, seconds=2, connections=8)
            for round_ in range(args.rounds):
                for scenario in scenarios:
                    order = list(SIDES)
                    random.shuffle(order)
                    for side in order:
                        server = servers[side]
                        ask = asks[scenario]["bare" if side == "bare" else "tenantry"]
                        if side != "bare":
                            ask = browser_cookies(server, ask)
                        before = usage.snapshot(server.pid)
                        got = run_wrk(server.base, ask, seconds=args.seconds, connections=8)
                        spent = usage.per_request(before, usage.snapshot(server.pid), got.requests)
                        row = {"round": round_, "scenario": scenario, "side": side,
                               "rps": got.rps, "p50": got.p50_ms, "p99": got.p99_ms,
                               "cpu": spent.cpu_ms, "vol": spent.voluntary_switches,
                               "invol": spent.involuntary_switches, "non2xx": got.non_2xx,
                               "load": os.getloadavg()[0]}  # fmt: skip
                        rows.append(row)
                        print(f"r{round_} {scenario:5} {side:4} {got.rps:7.0f}/s "
                              f"p50 {got.p50_ms:5.2f} p99 {got.p99_ms:6.2f} ms "
                              f"cpu {spent.cpu_ms:.3f} ms/req vol {spent.voluntary_switches:5.1f} "
                              f"invol {spent.involuntary_switches:4.1f} non2xx {got.non_2xx} "
                              f"load {row['load']:.2f}", flush=True)  # fmt: skip
    _medians(rows, scenarios)
    return 0


def _medians(rows: list[dict[str, Any]], scenarios: list[str]) -> None:
    print("== medians (ratio: side / bare in the same round)")
    for scenario in scenarios:
        of = [r for r in rows if r["scenario"] == scenario]
        bare = {r["round"]: r["rps"] for r in of if r["side"] == "bare"}
        base = {r["round"]: r["rps"] for r in of if r["side"] == "base"}
        for side in SIDES:
            mine = [r for r in of if r["side"] == side]
            line = (f"{scenario:5} {side:4} rps {statistics.median(r['rps'] for r in mine):7.0f} "
                    f"cpu {statistics.median(r['cpu'] for r in mine):.3f} ms "
                    f"vol {statistics.median(r['vol'] for r in mine):.1f}")  # fmt: skip
            if side != "bare":
                line += " ratio " + _spread([r["rps"] / bare[r["round"]] for r in mine])
            print(line)
        gains = [r["rps"] / base[r["round"]] for r in of if r["side"] == "this"]
        print(f"{scenario:5} this/base rps {_spread(gains)}")


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Served CPU per request of several trees (and the bare endpoint), interleaved, with an
optional py-spy profile of each Tenantry side.

    python -m bench.api_throughput.experiments.served TREE[@ENV=V&...] [TREE ...] \
        --rounds 3 --seconds 4 --scenarios read,list [--bare] [--spy DIR]

Each TREE is a checkout whose ``src`` the server imports (``PYTHONPATH``); ``@NAME=VALUE``
adds environment variables to that side. One uvicorn worker per side with the bench's
options (``servers.UVICORN_OPTIONS``), the bench's data and cookies (``main``), wrk -c8,
sides shuffled in every round. Per run: requests/s and what the server process spent
per request (``usage``). ``--spy DIR`` keeps, per side and scenario, a raw
``py-spy record --gil`` of one more run (``DIR/<side>-<scenario>.raw``), for
``experiments/spy_parts.py``. ``--gc-file`` with ``experiments/gc_probe`` on a side's
``PYTHONPATH`` adds the garbage collector's CPU per request (``gc``):

    python -m bench.api_throughput.experiments.served \
        "/work/main@PYTHONPATH=/work/main/src:bench/api_throughput/experiments/gc_probe" \
        ".@PYTHONPATH=src:bench/api_throughput/experiments/gc_probe" --bare \
        --gc-file "/tmp/gc-probe-{pid}.txt"
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.api_throughput import profile, usage
from bench.api_throughput.data import seed_bench
from bench.api_throughput.load import run_wrk
from bench.api_throughput.main import _cookie_of, _env, _requests, browser_cookies
from bench.api_throughput.servers import Spec, serve
from bench.isolation_overhead.server import bench_database
from tenantry.db.engine import Database


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="read,list")
    parser.add_argument("--filler", type=int, default=20_000)
    parser.add_argument("--bare", action="store_true", help="also serve the bare endpoint")
    parser.add_argument("--spy", type=Path, help="folder for raw py-spy profiles")
    parser.add_argument(
        "--gc-file",
        help="the file each Tenantry server's gc_probe writes on SIGUSR1 ({pid} in it)",
    )
    args = parser.parse_args(argv)
    scenarios = args.scenarios.split(",")
    work = Path(tempfile.mkdtemp(prefix="served-"))
    (work / "data").mkdir()
    (work / "logs").mkdir()
    sides = {f"t{i}": tree for i, tree in enumerate(args.trees)}
    rows: list[dict[str, Any]] = []
    with bench_database(data_dir=work / "data") as urls:
        db = Database(urls)
        read, write = seed_bench(db, bookings=200, filler=args.filler)
        db.dispose()
        env = _env(urls, work / "data")
        specs = []
        for name, tree in sides.items():
            path, _, extra = tree.partition("@")
            side_env = {**env["tenantry"], "PYTHONPATH": str(Path(path).resolve() / "src")}
            side_env.update(dict(kv.split("=", 1) for kv in extra.split("&") if kv))
            specs.append(Spec(name, ["tenantry.wsgi:app_from_env", "--factory"], side_env))
        if args.bare:
            specs.append(
                Spec("bare", ["bench.api_throughput.bare:app_from_env", "--factory"], env["bare"])
            )
        with serve(specs, work / "logs") as servers:
            first = servers["t0"].base
            cookies = {"read": _cookie_of(first, read), "write": _cookie_of(first, write)}
            asks = _requests(read, write, cookies, 20)
            names = [s.name for s in specs]

            def ask_of(side: str, scenario: str) -> Any:
                ask = asks[scenario]["bare" if side == "bare" else "tenantry"]
                return ask if side == "bare" else browser_cookies(servers[side], ask)

            for scenario in scenarios:
                for side in names:
                    run_wrk(servers[side].base, ask_of(side, scenario), seconds=2, connections=8)
            for round_ in range(args.rounds):
                for scenario in scenarios:
                    order = list(names)
                    random.shuffle(order)
                    for side in order:
                        server = servers[side]
                        ask = ask_of(side, scenario)
                        gc_before = _gc_seconds(args.gc_file, server.pid, side)
                        before = usage.snapshot(server.pid)
                        got = run_wrk(server.base, ask, seconds=args.seconds, connections=8)
                        spent = usage.per_request(before, usage.snapshot(server.pid), got.requests)
                        gc_after = _gc_seconds(args.gc_file, server.pid, side)
                        gc_ms = (
                            1000 * (gc_after[0] - gc_before[0]) / got.requests
                            if gc_after and gc_before and got.requests
                            else float("nan")
                        )
                        row = {"round": round_, "scenario": scenario, "side": side,
                               "rps": got.rps, "cpu": spent.cpu_ms, "sys": spent.sys_ms,
                               "non2xx": got.non_2xx, "load": os.getloadavg()[0],
                               "gc": gc_ms, "rss": _rss_mb(server.pid)}  # fmt: skip
                        rows.append(row)
                        print(f"r{round_} {scenario:5} {side:4} {got.rps:7.0f}/s "
                              f"cpu {spent.cpu_ms:.3f} ms/req (sys {spent.sys_ms:.3f}, "
                              f"gc {gc_ms:.3f}) rss {row['rss']:.0f} MB non2xx {got.non_2xx} "
                              f"load {row['load']:.2f}",
                              flush=True)  # fmt: skip
            if args.spy:
                args.spy.mkdir(parents=True, exist_ok=True)
                for scenario in scenarios:
                    for side in names:
                        if side == "bare":
                            continue
                        raw = args.spy / f"{side}-{scenario}.raw"
                        spy = profile.start(servers[side].pid, args.seconds, raw)
                        run_wrk(servers[side].base, ask_of(side, scenario),
                                seconds=args.seconds + 1, connections=8)  # fmt: skip
                        spy.wait(timeout=60)
    print("== medians over rounds (cpu ms per request; rps)")
    for scenario in scenarios:
        for side in [*sides, *(["bare"] if args.bare else [])]:
            mine = [r for r in rows if r["scenario"] == scenario and r["side"] == side]
            cpus = sorted(r["cpu"] for r in mine)
            rps = statistics.median(r["rps"] for r in mine)
            gcs = sorted(r["gc"] for r in mine)
            print(f"{scenario:5} {side:4} cpu {statistics.median(cpus):.3f} "
                  f"({cpus[0]:.3f}-{cpus[-1]:.3f}) gc {statistics.median(gcs):.3f} "
                  f"rps {rps:6.0f}  {sides.get(side, 'bare')}")  # fmt: skip
    pairs = [s for s in sides if s != "t0"]
    for scenario in scenarios:
        for side in pairs:
            base = {
                r["round"]: r["cpu"]
                for r in rows
                if r["scenario"] == scenario and r["side"] == "t0"
            }
            mine = [r["cpu"] / base[r["round"]] for r in rows
                    if r["scenario"] == scenario and r["side"] == side]  # fmt: skip
            print(f"{scenario:5} {side}/t0 cpu per round: " + " ".join(f"{x:.3f}" for x in mine))
    print(f"load at the end {os.getloadavg()}")
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


def _rss_mb(pid: int) -> float:
    """The server's resident memory now (``VmRSS``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _gc_seconds(pattern: str | None, pid: int, side: str) -> tuple[float, ...] | None:
    if pattern is None or side == "bare":
        return None
    import signal
    import time

    path = Path(pattern.format(pid=pid))
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(100):
        if path.exists() and path.read_text().strip():
            return tuple(float(x) for x in path.read_text().split())
        time.sleep(0.01)
    return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

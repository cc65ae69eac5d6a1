"""Orchestration: database → tenants → both servers → interleaved wrk rounds → report."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import URL

from bench.api_throughput import profile, usage
from bench.api_throughput.data import PASSWORD, BenchTenant, seed_bench
from bench.api_throughput.load import LoadResult, Request, run_wrk, wrk_path
from bench.api_throughput.report import write_results
from bench.api_throughput.servers import Server, Spec, serve
from bench.isolation_overhead.server import bench_database
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.observability.logging import configure_logging

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
SCENARIOS = ("read", "list", "write")
SIDES = ("tenantry", "bare")
# What each server process spent per request (``usage.PerRequest``), with every run.
SERVER_FIGURES = ("cpu_ms", "sys_ms", "voluntary_switches", "involuntary_switches")
SIGNING_KEY = "bench-signing-key-0123456789abcdef0123456789"
Say = Callable[..., None]


@dataclass
class ThroughputConfig:
    rounds: int = 5
    seconds: float = 5.0  # per wrk run
    warmup_seconds: float = 2.0  # once per server and scenario, before round 1
    connections: int = 8
    bookings: int = 200  # in the read tenant; a list page is 20 of them
    filler: int = 20_000  # other tenants' bookings (data.seed_filler: stable plans)
    page: int = 20
    seed: int = 11
    label: str = "full"
    scenarios: tuple[str, ...] = SCENARIOS
    profile: bool = False  # py-spy the Tenantry server once per scenario after the rounds


SMOKE = {
    "rounds": 1, "seconds": 1.0, "warmup_seconds": 0.0, "bookings": 30, "filler": 0,
    "label": "smoke",
}  # fmt: skip


@dataclass
class ThroughputResult:
    config: ThroughputConfig
    runs: list[dict[str, Any]] = field(default_factory=list)  # one per (round, scenario, side)
    ratios: dict[str, list[float]] = field(default_factory=dict)  # per scenario, per round
    machine: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)  # per scenario, as text

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for scenario, ratios in self.ratios.items():
            runs = [r for r in self.runs if r["scenario"] == scenario]
            row = {
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
            }
            for side in SIDES:
                mine = [r for r in runs if r["side"] == side]
                row[f"{side}_rps"] = statistics.median(r["rps"] for r in mine)
                for name in SERVER_FIGURES:
                    figures = [r[name] for r in mine if r.get(name) is not None]
                    if figures:
                        row[f"{side}_{name}"] = statistics.median(figures)
                row[f"{side}_p50_ms"] = statistics.median(r["p50_ms"] for r in mine)
                row[f"{side}_p99_ms"] = statistics.median(r["p99_ms"] for r in mine)
            out[scenario] = row
        return out


def _requests(
    read: BenchTenant, write: BenchTenant, cookies: dict[str, str], page: int
) -> dict[str, dict[str, Request]]:
    """What each side is asked, per scenario (same rows, same statements)."""
    as_read, as_write = (("Cookie", cookies["read"]),), (("Cookie", cookies["write"]),)
    body = {
        "client_id": str(write.client_id),
        "service_id": str(write.service_id),
        # A whole hour after the minimum notice; the write runs move on by an hour per
        # request from there (booking rules: one booking per time for the one owner).
        "starts_at": (
            dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
            + dt.timedelta(days=1)
        ).isoformat(),
    }
    return {
        "read": {
            "tenantry": Request(f"/api/admin/bookings/{read.booking_id}", headers=as_read),
            "bare": Request(f"/bare/{read.id}/bookings/{read.booking_id}"),
        },
        "list": {
            "tenantry": Request(f"/api/admin/bookings?limit={page}", headers=as_read),
            "bare": Request(f"/bare/{read.id}/bookings?limit={page}"),
        },
        "write": {
            "tenantry": Request(
                "/api/admin/bookings", "POST", body, headers=as_write, distinct_hour="starts_at"
            ),
            "bare": Request(
                f"/bare/{write.id}/bookings/create", "POST", body, distinct_hour="starts_at"
            ),
        },
    }


def _cookie_of(base: str, tenant: BenchTenant) -> str:
    r = httpx.post(
        f"{base}/api/auth/login",
        json={"email": tenant.owner_email, "password": PASSWORD, "tenant": tenant.slug},
    )
    r.raise_for_status()
    return "; ".join(f"{k}={v}" for k, v in r.cookies.items())


def _ids(body: Any) -> list[str]:
    return [item["id"] for item in body["items"]]


def check_answers(servers: dict[str, Server], asks: dict[str, dict[str, Request]]) -> None:
    """Both sides must answer each scenario, with the same rows, before anything is timed."""
    for scenario, per_side in asks.items():
        bodies = {}
        for side, ask in per_side.items():
            r = httpx.request(
                ask.method, servers[side].base + ask.path, json=ask.body, headers=dict(ask.headers)
            )
            if r.status_code not in (200, 201):
                raise RuntimeError(f"{side} {scenario}: {r.status_code} {r.text[:300]}")
            bodies[side] = r.json()
        if scenario == "read" and bodies["tenantry"]["id"] != bodies["bare"]["id"]:
            raise RuntimeError("the two sides read different rows")
        if scenario == "list" and _ids(bodies["tenantry"]) != _ids(bodies["bare"]):
            raise RuntimeError("the two sides list different rows")


def _env(urls: DatabaseUrls, data_dir: Path) -> dict[str, dict[str, str]]:
    app_dsn = urls.app.set(drivername="postgresql").render_as_string(hide_password=False)
    return {
        "tenantry": {
            "DATABASE_URL": urls.admin.render_as_string(hide_password=False),
            "TENANTRY_DATA_DIR": str(data_dir),
            "TENANTRY_DATABASE_NAME": urls.database,
            "TENANTRY_SECRET_KEYS": SIGNING_KEY,
            "TENANTRY_LOG_JSON": "true",
            "TENANTRY_LOGIN_ATTEMPTS_PER_ACCOUNT": "1000/minute",
        },
        "bare": {"BENCH_BARE_DSN": app_dsn},
    }


def _loadavg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def run(
    config: ThroughputConfig,
    *,
    admin: URL | None = None,
    database: tuple[DatabaseUrls, Path] | None = None,
    results_dir: Path | None = RESULTS_DIR,
    log: bool = True,
) -> ThroughputResult:
    """Measure. ``admin``: create the bench database on that server; ``database``: use an
    existing migrated database and the data folder holding its roles' passwords (the test
    suite's); neither: an embedded server in a temporary folder."""
    say: Say = print if log else (lambda *a, **k: None)
    if wrk_path() is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    result = ThroughputResult(config=config)
    result.machine = {
        "python": platform.python_version(),
        "cpus": str(os.cpu_count()),
        "loadavg_start": _loadavg(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    logs = Path(tempfile.mkdtemp(prefix="tenantry-api-bench-logs-"))
    try:
        if database is not None:
            _run_on(database[0], database[1], result, logs, say)
        else:
            data_dir = Path(tempfile.mkdtemp(prefix="tenantry-api-bench-"))
            with bench_database(admin=admin, data_dir=data_dir) as urls:
                _run_on(urls, data_dir, result, logs, say)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    result.machine["loadavg_end"] = _loadavg()
    if results_dir is not None:
        write_results(result, results_dir)
    return result


def _run_on(
    urls: DatabaseUrls, data_dir: Path, result: ThroughputResult, logs: Path, say: Say
) -> None:
    config = result.config
    db = Database(urls)
    try:
        read, write = seed_bench(db, bookings=config.bookings, filler=config.filler)
    finally:
        db.dispose()
    env = _env(urls, data_dir)
    specs = [
        Spec("tenantry", ["tenantry.wsgi:app_from_env", "--factory"], env["tenantry"]),
        Spec("bare", ["bench.api_throughput.bare:app_from_env", "--factory"], env["bare"]),
    ]
    with serve(specs, logs) as servers:
        full = servers["tenantry"]
        cookies = {"read": _cookie_of(full.base, read), "write": _cookie_of(full.base, write)}
        every = _requests(read, write, cookies, config.page)
        asks = {s: every[s] for s in config.scenarios}
        check_answers(servers, asks)
        _measure(result, servers, asks, config, say)
        if config.profile:
            _profile(result, full, asks, config, logs, say)


def _measure(
    result: ThroughputResult,
    servers: dict[str, Server],
    asks: dict[str, dict[str, Request]],
    config: ThroughputConfig,
    say: Say,
) -> None:
    """Rounds: every scenario, both sides in random order, back to back — load from other
    work on the machine hits both sides of a ratio alike."""
    rng = random.Random(config.seed)
    if config.warmup_seconds > 0:
        for per_side in asks.values():
            for side, ask in per_side.items():
                run_wrk(
                    servers[side].base,
                    browser_cookies(servers[side], ask) if side == "tenantry" else ask,
                    seconds=config.warmup_seconds,
                    connections=config.connections,
                )
    for rnd in range(1, config.rounds + 1):
        scenarios = list(asks)
        rng.shuffle(scenarios)
        for scenario in scenarios:
            sides = list(SIDES)
            rng.shuffle(sides)
            got: dict[str, LoadResult] = {}
            spent: dict[str, usage.PerRequest | None] = {}
            for side in sides:
                got[side], used = _timed_run(servers[side], asks[scenario][side], config)
                spent[side] = used
                result.runs.append(
                    {
                        "round": rnd,
                        "scenario": scenario,
                        "side": side,
                        "loadavg": os.getloadavg()[0],
                        **asdict(got[side]),
                        **(asdict(used) if used is not None else dict.fromkeys(SERVER_FIGURES)),
                    }
                )
            ratio = got["tenantry"].rps / got["bare"].rps if got["bare"].rps else float("nan")
            result.ratios.setdefault(scenario, []).append(ratio)
            say(
                f"round {rnd} {scenario:5} tenantry {got['tenantry'].rps:7.0f}/s "
                f"bare {got['bare'].rps:7.0f}/s  ratio {ratio:.2f}  "
                f"(p50 {got['tenantry'].p50_ms:.2f} / {got['bare'].p50_ms:.2f} ms"
                f"{_spent_text(spent)}, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )


def _timed_run(
    server: Server, ask: Request, config: ThroughputConfig
) -> tuple[LoadResult, usage.PerRequest | None]:
    """One wrk run, with what the server process spent on it per request (where
    ``/proc`` can tell)."""
    if server.name == "tenantry":
        ask = browser_cookies(server, ask)
    if not usage.available(server.pid):
        return run_wrk(
            server.base, ask, seconds=config.seconds, connections=config.connections
        ), None
    before = usage.snapshot(server.pid)
    got = run_wrk(server.base, ask, seconds=config.seconds, connections=config.connections)
    return got, usage.per_request(before, usage.snapshot(server.pid), got.requests)


def browser_cookies(server: Server, ask: Request) -> Request:
    """``ask`` with the session cookie a browser would hold now. The server slides a
    session's idle timeout by re-issuing its cookie at most once a minute; a browser
    stores the new one, but wrk replays the one it was given, so after the first minute
    EVERY request of a run would be answered with a freshly signed cookie (~36 µs of
    signing and Set-Cookie per request that no browser causes). One request before each
    run takes the cookie the server hands out, as a browser would; a run is far shorter
    than the minute."""
    jar = dict(
        part.strip().split("=", 1)
        for name, value in ask.headers
        if name.lower() == "cookie"
        for part in value.split(";")
        if "=" in part
    )
    if not jar:
        return ask
    r = httpx.get(f"{server.base}/api/tenant/current", headers={"Cookie": _cookie_text(jar)})
    r.raise_for_status()
    jar.update(r.cookies.items())
    headers = tuple((k, v) for k, v in ask.headers if k.lower() != "cookie")
    return replace(ask, headers=(*headers, ("Cookie", _cookie_text(jar))))


def _cookie_text(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _spent_text(spent: dict[str, usage.PerRequest | None]) -> str:
    mine, bare = spent.get("tenantry"), spent.get("bare")
    if mine is None or bare is None:
        return ""
    return (
        f"; server CPU {mine.cpu_ms:.2f} / {bare.cpu_ms:.2f} ms/req"
        f" (system {mine.sys_ms:.2f} / {bare.sys_ms:.2f}),"
        f" switches/req {mine.voluntary_switches:.1f} / {bare.voluntary_switches:.1f}"
    )


def _profile(
    result: ThroughputResult,
    full: Server,
    asks: dict[str, dict[str, Request]],
    config: ThroughputConfig,
    folder: Path,
    say: Say,
) -> None:
    for scenario, per_side in asks.items():
        raw = folder / f"profile-{scenario}.txt"
        ask = browser_cookies(full, per_side["tenantry"])
        spy = profile.start(full.pid, config.seconds, raw)
        run_wrk(
            full.base,
            ask,
            seconds=config.seconds + 1,
            connections=config.connections,
        )
        spy.wait(timeout=60)
        result.profiles[scenario] = profile.summarize(raw).text()
        say(f"--- profile of the Tenantry server, {scenario}\n{result.profiles[scenario]}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_throughput",
        description="Requests/s of the whole stack against a bare RLS endpoint (wrk).",
    )
    parser.add_argument("--rounds", type=int, default=ThroughputConfig.rounds)
    parser.add_argument(
        "--seconds", type=float, default=ThroughputConfig.seconds, help="length of each wrk run"
    )
    parser.add_argument("--connections", type=int, default=ThroughputConfig.connections)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="read,list,write")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the rounds, py-spy the Tenantry server per scenario",
    )
    parser.add_argument("--smoke", action="store_true", help="one 1-second round")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    configure_logging(json_output=False, level="WARNING")
    if args.smoke:
        config = ThroughputConfig(**SMOKE)  # type: ignore[arg-type]
    else:
        config = ThroughputConfig(
            rounds=args.rounds, seconds=args.seconds, connections=args.connections
        )
    config.scenarios = tuple(s for s in args.scenarios.split(",") if s)
    config.profile = args.profile
    unknown = set(config.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    result = run(config, results_dir=None if args.no_results else args.results_dir)
    for scenario, row in result.summary().items():
        print(
            f"{scenario:5} ratio median {row['ratio_median']:.2f} "
            f"(tenantry {row['tenantry_rps']:.0f}/s, bare {row['bare_rps']:.0f}/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

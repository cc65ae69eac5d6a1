"""Noisy neighbour: does one abusive tenant slow the others down once limits are on?

    .venv/bin/python -m bench.noisy_neighbour [--seconds 15] [--quota 10] [--rate 4]

A real server (``uvicorn --workers 2``, the app exactly as ``tenantry serve`` builds
it) runs with ``TENANTRY_TENANT_RATE_LIMIT=<quota>/second``, sharing its counters
through a ``redis-server`` the bench starts (Debian's package; without it the budget
is per worker — reported). 20 tenants send ``--rate`` requests per second each
(open loop: a request leaves on schedule whether or not the last one came back).

1. **baseline**: the 20 tenants alone;
2. **abuser**: the same, plus one tenant sending 10x its quota.

The two phases alternate for ``--rounds`` rounds (order flipped every round), so a
change in the machine's load during the run falls on both sides alike; latencies are
pooled per phase, and each round's own p99 ratio is reported too.

Reported: the 20 tenants' p50/p99 latency in each phase and the p99 ratio (target
<= 1.10), the abuser's share of 429s, and how soon after its budget was spent it got
its first 429. Results go to ``bench/results/noisy_neighbour.{json,md}``. Loopback
only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PASSWORD = "noisy-neighbour-bench"
PATH = "/api/tenant/current"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Phase:
    name: str
    others_ms: list[float] = field(default_factory=list)
    others_errors: int = 0
    abuser_sent: int = 0
    abuser_ok: int = 0
    abuser_429: int = 0
    abuser_budget_spent_at: float | None = None
    abuser_first_429_at: float | None = None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


# ---- setup ----------------------------------------------------------------------------


def start_database(tmp: Path) -> tuple[Any, Any]:
    """(settings, DatabaseUrls) of a fresh migrated database with 21 tenants."""
    from tenantry.db.bootstrap import admin_url, ensure_database, resolve_urls
    from tenantry.db.migrate import upgrade
    from tenantry.settings import Settings

    name = "tenantry_noisy_" + uuid.uuid4().hex[:6]
    settings = Settings(data_dir=tmp, database_name=name, secret_keys="noisy-" + uuid.uuid4().hex)
    if settings.database_url:
        admin = admin_url(settings)
    else:
        from tenantry.db.embedded import start_embedded

        admin = start_embedded(settings.pg_dir, cleanup_mode="delete")
    urls = resolve_urls(settings, admin)
    ensure_database(urls)
    upgrade(urls)
    return settings, urls


def make_tenants(urls: Any, count: int) -> list[tuple[str, str]]:
    from tenantry.db.engine import Database
    from tenantry.tenants.lifecycle import add_member, ensure_user, provision_tenant

    db = Database(urls)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    out = []
    try:
        for n in range(count):
            slug = f"noisy-{n:02d}-{uuid.uuid4().hex[:4]}"
            ref = provision_tenant(db, slug=slug, name=f"Noisy {n}")
            email = f"owner@{slug}.test"
            add_member(
                db, tenant_id=ref.id, user_id=ensure_user(db, email=email, password_hash=cheap),
                role="owner",
            )  # fmt: skip
            out.append((slug, email))
    finally:
        db.dispose()
    return out


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes] | None, str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    return None, None


def start_server(settings: Any, urls: Any, quota: int, redis_url: str | None) -> tuple[Any, str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        "DATABASE_URL": urls.admin.render_as_string(hide_password=False),
        "TENANTRY_DATA_DIR": str(settings.data_dir),
        "TENANTRY_DATABASE_NAME": settings.database_name,
        "TENANTRY_SECRET_KEYS": settings.secret_keys,
        "TENANTRY_LOG_LEVEL": "ERROR",
        "TENANTRY_LOGIN_ATTEMPTS_PER_ADDRESS": "100000/minute",
        "TENANTRY_LOGIN_FAILURES_PER_ACCOUNT": "100000/minute",
        "TENANTRY_TENANT_RATE_LIMIT": f"{quota}/second",
    }
    if redis_url:
        env["TENANTRY_RATE_LIMIT_URL"] = redis_url
    cmd = [
        sys.executable, "-m", "uvicorn", "tenantry.wsgi:app_from_env", "--factory",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not start")


def sign_in(base: str, email: str) -> dict[str, str]:
    r = httpx.post(base + "/api/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return dict(r.cookies)


# ---- load -----------------------------------------------------------------------------


async def _tenant_load(client: httpx.AsyncClient, rate: float, seconds: float, record: Any) -> None:
    start = time.perf_counter()
    tasks = []
    n = 0
    while True:
        due = start + n / rate
        if due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(client, record)))
        n += 1
    await asyncio.gather(*tasks)


async def _one(client: httpx.AsyncClient, record: Any) -> None:
    sent = time.perf_counter()
    try:
        r = await client.get(PATH)
        status = r.status_code
    except httpx.HTTPError:
        status = 0
    record(sent, time.perf_counter(), status)


async def run_phase(
    name: str,
    base: str,
    others: list[dict[str, str]],
    abuser: dict[str, str] | None,
    rate: float,
    quota: int,
    seconds: float,
) -> Phase:
    phase = Phase(name)
    t0 = time.perf_counter()
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)

    def other(sent: float, done: float, status: int) -> None:
        if status == 200:
            phase.others_ms.append((done - sent) * 1000)
        else:
            phase.others_errors += 1

    abuser_ok_times: list[float] = []

    def abusive(sent: float, done: float, status: int) -> None:
        phase.abuser_sent += 1
        if status == 200:
            phase.abuser_ok += 1
            abuser_ok_times.append(sent - t0)
        elif status == 429:
            phase.abuser_429 += 1
            if phase.abuser_first_429_at is None or sent - t0 < phase.abuser_first_429_at:
                phase.abuser_first_429_at = sent - t0

    clients = [
        httpx.AsyncClient(base_url=base, cookies=c, timeout=30, limits=limits) for c in others
    ]
    jobs = [_tenant_load(c, rate, seconds, other) for c in clients]
    if abuser is not None:
        abuse_client = httpx.AsyncClient(base_url=base, cookies=abuser, timeout=30, limits=limits)
        clients.append(abuse_client)
        jobs.append(_tenant_load(abuse_client, quota * 10, seconds, abusive))
    try:
        await asyncio.gather(*jobs)
    finally:
        for c in clients:
            await c.aclose()
    if abuser is not None and len(abuser_ok_times) >= quota:
        # The budget is spent by the quota-th accepted request of the first window.
        phase.abuser_budget_spent_at = sorted(abuser_ok_times)[quota - 1]
    return phase


def merge(into: Phase, phase: Phase) -> None:
    """Pool a round's phase into the run's phase of the same name. The throttling delay
    kept is the worst round's (the promise is "within 1 s" every time)."""
    into.others_ms += phase.others_ms
    into.others_errors += phase.others_errors
    into.abuser_sent += phase.abuser_sent
    into.abuser_ok += phase.abuser_ok
    into.abuser_429 += phase.abuser_429
    if phase.abuser_first_429_at is not None and phase.abuser_budget_spent_at is not None:
        delay = phase.abuser_first_429_at - phase.abuser_budget_spent_at
        worst = (
            into.abuser_first_429_at - into.abuser_budget_spent_at
            if into.abuser_first_429_at is not None and into.abuser_budget_spent_at is not None
            else None
        )
        if worst is None or delay > worst:
            into.abuser_first_429_at = phase.abuser_first_429_at
            into.abuser_budget_spent_at = phase.abuser_budget_spent_at


def summary(phase: Phase) -> dict[str, Any]:
    out = {
        "phase": phase.name,
        "others_requests": len(phase.others_ms),
        "others_errors": phase.others_errors,
        "others_p50_ms": round(percentile(phase.others_ms, 0.50), 2),
        "others_p99_ms": round(percentile(phase.others_ms, 0.99), 2),
        "others_mean_ms": round(statistics.fmean(phase.others_ms), 2) if phase.others_ms else None,
    }
    if phase.abuser_sent:
        throttle = (
            phase.abuser_first_429_at - phase.abuser_budget_spent_at
            if phase.abuser_first_429_at is not None and phase.abuser_budget_spent_at is not None
            else None
        )
        out.update(
            abuser_sent=phase.abuser_sent,
            abuser_ok=phase.abuser_ok,
            abuser_429=phase.abuser_429,
            abuser_first_429_s=round(phase.abuser_first_429_at or float("nan"), 3),
            abuser_throttled_after_budget_s=round(throttle, 3) if throttle is not None else None,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--quota", type=int, default=10, help="tenant budget per second")
    parser.add_argument("--rate", type=float, default=4.0, help="each normal tenant, req/s")
    parser.add_argument("--tenants", type=int, default=20, help="normal tenants")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/abuser pairs")
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 120 or not 1 <= args.tenants <= 50 or not 1 <= args.rounds <= 10:
        parser.error("--seconds 1..120, --tenants 1..50, --rounds 1..10 keep the run bounded")

    with tempfile.TemporaryDirectory(prefix="tenantry-noisy-") as tmp_name:
        tmp = Path(tmp_name)
        print("database: migrating and provisioning tenants ...", flush=True)
        settings, urls = start_database(tmp)
        accounts = make_tenants(urls, args.tenants + 1)
        redis_proc, redis_url = start_redis(tmp)
        print(f"counters: {'redis ' + redis_url if redis_url else 'per worker (no redis)'}")
        server, base = start_server(settings, urls, args.quota, redis_url)
        try:
            cookies = [sign_in(base, email) for _, email in accounts]
            others, abuser = cookies[:-1], cookies[-1]
            # Warm both workers (pools, caches) before measuring.
            asyncio.run(run_phase("warmup", base, others, None, args.rate, args.quota, 3))
            pooled = {"baseline": Phase("baseline"), "abuser": Phase("abuser")}
            round_ratios = []
            for number in range(args.rounds):
                order = ("baseline", "abuser") if number % 2 == 0 else ("abuser", "baseline")
                p99 = {}
                for name in order:
                    print(f"round {number + 1}/{args.rounds}, phase {name}: "
                          f"{args.seconds:.0f} s ...", flush=True)  # fmt: skip
                    started = time.perf_counter()
                    phase = asyncio.run(
                        run_phase(
                            name, base, others, abuser if name == "abuser" else None,
                            args.rate, args.quota, args.seconds,
                        )
                    )  # fmt: skip
                    p99[name] = percentile(phase.others_ms, 0.99)
                    took = time.perf_counter() - started
                    print(
                        f"  done in {took:.1f} s: others p99 {p99[name]:.1f} ms, "
                        f"{phase.others_errors} errors; abuser {phase.abuser_ok} ok, "
                        f"{phase.abuser_429} refused",
                        flush=True,
                    )
                    merge(pooled[name], phase)
                    # Let the abuser's window empty before the next phase.
                    time.sleep(1.5)
                round_ratios.append(round(p99["abuser"] / p99["baseline"], 3))
            phases = [summary(pooled["baseline"]), summary(pooled["abuser"])]
        finally:
            server.terminate()
            server.wait(timeout=20)
            if redis_proc is not None:
                redis_proc.terminate()
                redis_proc.wait(timeout=10)
    base_p99, abuse_p99 = phases[0]["others_p99_ms"], phases[1]["others_p99_ms"]
    result = {
        "config": vars(args) | {"shared_counters": bool(redis_url), "workers": 2},
        "phases": phases,
        "others_p99_ratio": round(abuse_p99 / base_p99, 3) if base_p99 else None,
        "others_p50_ratio": round(phases[1]["others_p50_ms"] / phases[0]["others_p50_ms"], 3),
        "round_p99_ratios": round_ratios,
        "target_p99_ratio": 1.10,
    }
    report = render(result)
    print(report)
    if not args.no_results:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "noisy_neighbour.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "noisy_neighbour.md").write_text(report + "\n")
    return 0


def render(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        "# Noisy neighbour",
        "",
        f"{cfg['tenants']} tenants at {cfg['rate']} req/s each; one abuser at "
        f"{cfg['quota'] * 10} req/s against a quota of {cfg['quota']}/s; 2 workers; "
        f"counters {'shared (redis)' if cfg['shared_counters'] else 'per worker'}; "
        f"{cfg['seconds']:.0f} s per phase, {cfg['rounds']} alternating rounds (pooled below).",
        "",
        "| phase | others' requests | errors | p50 ms | p99 ms | abuser sent | abuser 200 "
        "| abuser 429 | first 429 after budget spent (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result["phases"]:
        lines.append(
            f"| {p['phase']} | {p['others_requests']} | {p['others_errors']} | "
            f"{p['others_p50_ms']} | {p['others_p99_ms']} | {p.get('abuser_sent', '')} | "
            f"{p.get('abuser_ok', '')} | {p.get('abuser_429', '')} | "
            f"{p.get('abuser_throttled_after_budget_s', '')} |"
        )
    lines += [
        "",
        f"Others' p99 with the abuser / without: **{result['others_p99_ratio']}** "
        f"(target <= {result['target_p99_ratio']}); p50 ratio {result['others_p50_ratio']}; "
        f"per round: {', '.join(str(r) for r in result['round_p99_ratios'])}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

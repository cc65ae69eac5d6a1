"""Noisy neighbour: does one abusive tenant slow the others down once limits are on?

    .venv/bin/python -m bench.noisy_neighbour [--seconds 15] [--quota 10] [--rate 4]
        [--hold SECONDS] [--abuser-connections 10]

A real server (``uvicorn --workers 2``, the app exactly as ``tenantry serve`` builds
it) runs with ``TENANTRY_TENANT_RATE_LIMIT=<quota>/second``, sharing its counters
through a ``redis-server`` the bench starts (Debian's package; without it the budget
is per worker — reported). 20 tenants send ``--rate`` requests per second each
(open loop: a request leaves on schedule whether or not the last one came back).

1. **baseline**: the 20 tenants alone;
2. **at_budget**: the same, plus one more tenant sending exactly its quota (a busy but
   well-behaved neighbour: what the abuser is entitled to);
3. **abuser**: the same, plus that tenant sending 10x its quota.

The phases alternate for ``--rounds`` rounds (their order rotated every round), so a
change in the machine's load during the run falls on all of them alike; latencies are
pooled per phase, and each round's own p99 ratio is reported too. The at-budget phase
splits the abuser's effect in two: the load of the requests it is allowed (at_budget /
baseline) and what its refused surplus still costs the others (abuser / at_budget).

Reported: the 20 tenants' p50/p99 latency in each phase (wrk's latency at a fine grid
of percentiles, pooled over the rounds) and the p99 ratio (target <= 1.10) next to the
same ratio between two halves of the baseline (the run's noise), the abuser's share of
429s, and how soon after its budget was spent it got its first 429. Results go to
``bench/results/noisy_neighbour.{json,md}``. Loopback only; every loop is bounded in
count and time.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path
from typing import Any

import httpx
import psutil
from argon2 import PasswordHasher

from bench.api_throughput import usage

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PASSWORD = "noisy-neighbour-bench"
PATH = "/api/tenant/current"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def start_server(
    settings: Any, urls: Any, quota: int, redis_url: str | None, hold: float | None = None
) -> tuple[Any, str]:
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
    if hold is not None:  # else the server's default (tenantry.settings)
        env["TENANTRY_RATE_LIMIT_HOLD_SECONDS"] = str(hold)
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


def server_cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) spent so far by the server: its master and workers."""
    total = 0.0
    for proc in [psutil.Process(server.pid), *psutil.Process(server.pid).children(True)]:
        try:
            user, system = usage.cpu_seconds(Path(f"/proc/{proc.pid}/stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += user + system
    return total


def sign_in(base: str, email: str) -> dict[str, str]:
    r = httpx.post(base + "/api/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return dict(r.cookies)


# ---- load (wrk: a C load generator, so the client costs the 2 cores next to nothing) ---

# Both scripts share one clock (CLOCK_REALTIME through LuaJIT's FFI) and one schedule:
# requests leave as a Poisson stream at the given rate, whichever of the script's
# connections is free (``delay`` is asked after every response). A slow server delays
# no later request beyond its slot: the load stays the load asked for.
CLOCK_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } nn_timespec;
int clock_gettime(int clk_id, nn_timespec *tp);
]]
local ts = ffi.new("nn_timespec")
local function now()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end
local mean_s = %(mean_s)f
local next_due = nil
delay = function()
  local t = now()
  next_due = math.max((next_due or t) - math.log(1 - math.random()) * mean_s, t)
  return (next_due - t) * 1000
end
"""

# The others: one connection per tenant, each request carrying the next tenant's
# cookies; wrk measures each request from its first byte out.
OTHERS_LUA = (
    CLOCK_LUA
    + """
local cookies = {%(cookies)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "%(path)s", {["Cookie"] = cookies[(n %% #cookies) + 1]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"non_2xx\\": %%d, \\"socket_errors\\": %%d, " ..
    "\\"p50_ms\\": %%.3f, \\"p90_ms\\": %%.3f, \\"p99_ms\\": %%.3f, \\"max_ms\\": %%.3f, " ..
    "\\"mean_ms\\": %%.3f}\\n",
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000))
  -- The latency at a fine grid of percentiles (finest in the tail), so that the
  -- rounds of a phase can be pooled into one distribution.
  local parts = {}
  for i = 1, 199 do parts[#parts + 1] = (i / 2) .. ":" .. latency:percentile(i / 2) end
  for i = 1, 99 do
    local q = 99.5 + i / 200
    parts[#parts + 1] = q .. ":" .. latency:percentile(q)
  end
  parts[#parts + 1] = "100:" .. latency.max  -- wrk's percentile(100) is 0
  io.write("QUANTILES " .. table.concat(parts, ",") .. "\\n")
end
"""
)

# The abuser: counts its 200s and 429s, and clocks when its budget was spent (the
# quota-th 200) and its first 429.
ABUSER_LUA = (
    CLOCK_LUA
    + """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
local quota = %(quota)d
ok, refused, other, spent_at, first_429_at = 0, 0, 0, 0, 0
wrk.headers["Cookie"] = "%(cookie)s"
response = function(status, headers, body)
  if status == 200 then
    ok = ok + 1
    if ok == quota then spent_at = now() end
  elseif status == 429 then
    refused = refused + 1
    if first_429_at == 0 then first_429_at = now() end
  else
    other = other + 1
  end
end
done = function(summary, latency, requests)
  local t = threads[1]
  io.write(string.format(
    "RESULT {\\"sent\\": %%d, \\"ok\\": %%d, \\"refused\\": %%d, \\"other\\": %%d, " ..
    "\\"spent_at\\": %%.6f, \\"first_429_at\\": %%.6f}\\n",
    summary.requests, t:get("ok"), t:get("refused"), t:get("other"),
    t:get("spent_at"), t:get("first_429_at")))
end
"""
)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def _wrk(script: Path, connections: int, seconds: float, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
         "-s", str(script), url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=180)
    result: dict[str, Any] | None = None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = dict(json.loads(line[len("RESULT ") :]))
        elif line.startswith("QUANTILES ") and result is not None:
            pairs = (item.split(":") for item in line[len("QUANTILES ") :].split(","))
            result["quantiles"] = [(float(q), float(us)) for q, us in pairs]
    if result is None:
        raise SystemExit(f"wrk gave no result: {out[-500:]} {err[-500:]}")
    return result


def pooled_percentile(phases: list[dict[str, Any]], pct: float) -> float:
    """The ``pct`` percentile, in ms, of all the requests of several wrk runs, each
    given as its request count and its latency at a grid of percentiles."""
    runs: list[tuple[int, list[tuple[float, float]]]] = [
        (r["requests"], r["quantiles"]) for r in phases if r.get("quantiles")
    ]
    total = sum(n for n, _ in runs)
    if not total:
        return 0.0

    def share_at_most(us: float) -> float:  # the pooled fraction of latencies <= us
        return sum(n * max((q for q, v in grid if v <= us), default=0.0) for n, grid in runs)

    for us in sorted({v for _, grid in runs for _, v in grid}):
        if share_at_most(us) >= pct * total:
            return round(us / 1000, 3)
    return round(max(v for _, grid in runs for _, v in grid) / 1000, 3)


def run_phase(
    name: str,
    base: str,
    others: list[dict[str, str]],
    abuser: dict[str, str] | None,
    rate: float,
    quota: int,
    seconds: float,
    tmp: Path,
    abuser_rate: float | None = None,
    abuser_connections: int = 10,
) -> dict[str, Any]:
    """One phase: the others' latency (and, with the abuser, what it got). The abuser
    sends ``abuser_rate`` requests per second (default: 10x its quota)."""
    others_lua = tmp / f"others-{name}.lua"
    others_lua.write_text(
        OTHERS_LUA
        % {
            "cookies": ", ".join(json.dumps(cookie_header(c)) for c in others),
            "mean_s": 1 / (rate * len(others)),
            "path": PATH,
        }
    )
    procs = {"others": _wrk(others_lua, len(others), seconds, base + PATH)}
    if abuser is not None:
        connections = abuser_connections
        abuser_lua = tmp / "abuser.lua"
        abuser_lua.write_text(
            ABUSER_LUA
            % {
                "cookie": cookie_header(abuser),
                "mean_s": 1 / (abuser_rate or quota * 10),
                "quota": quota,
            }
        )
        procs["abuser"] = _wrk(abuser_lua, connections, seconds, base + PATH)
    phase: dict[str, Any] = {"phase": name, "others": _result(procs["others"])}
    if "abuser" in procs:
        got = _result(procs["abuser"])
        got["throttled_after_budget_s"] = (
            round(got["first_429_at"] - got["spent_at"], 3)
            if got["spent_at"] and got["first_429_at"]
            else None
        )
        phase["abuser"] = got
    return phase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--quota", type=int, default=10, help="tenant budget per second")
    parser.add_argument("--rate", type=float, default=4.0, help="each normal tenant, req/s")
    parser.add_argument("--tenants", type=int, default=20, help="normal tenants")
    parser.add_argument("--rounds", type=int, default=4, help="baseline/abuser pairs")
    parser.add_argument(
        "--hold",
        type=float,
        default=None,
        help="seconds the server holds a refusal at the quota gate "
        "(TENANTRY_RATE_LIMIT_HOLD_SECONDS; default: the server's own, 1)",
    )
    parser.add_argument(
        "--abuser-connections", type=int, default=10, help="connections the abuser sends on"
    )
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 120 or not 1 <= args.tenants <= 50 or not 1 <= args.rounds <= 10:
        parser.error("--seconds 1..120, --tenants 1..50, --rounds 1..10 keep the run bounded")
    if not 1 <= args.abuser_connections <= 200 or not 0 <= (args.hold or 0) <= 30:
        parser.error("--abuser-connections 1..200, --hold 0..30")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk; .ci/run does)")

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tenantry-noisy-") as tmp_name:
        tmp = Path(tmp_name)
        print("database: migrating and provisioning tenants ...", flush=True)
        settings, urls = start_database(tmp)
        accounts = make_tenants(urls, args.tenants + 1)
        redis_proc, redis_url = start_redis(tmp)
        print(f"counters: {'redis ' + redis_url if redis_url else 'per worker (no redis)'}")
        server, base = start_server(settings, urls, args.quota, redis_url, args.hold)
        rounds: list[dict[str, Any]] = []
        try:
            cookies = [sign_in(base, email) for _, email in accounts]
            others, abuser = cookies[:-1], cookies[-1]
            # Warm both workers (pools, caches) before measuring.
            run_phase("warmup", base, others, None, args.rate, args.quota, 3, tmp)
            for number in range(args.rounds):
                k = number % len(PHASES)
                order = PHASES[k:] + PHASES[:k]
                this: dict[str, Any] = {"round": number + 1}
                for name in order:
                    print(f"round {number + 1}/{args.rounds}, phase {name}: "
                          f"{args.seconds:.0f} s ...", flush=True)  # fmt: skip
                    cpu_before = server_cpu_seconds(server)
                    phase = run_phase(
                        name, base, others, None if name == "baseline" else abuser,
                        args.rate, args.quota, args.seconds, tmp,
                        abuser_rate=args.quota if name == "at_budget" else None,
                        abuser_connections=args.abuser_connections,
                    )  # fmt: skip
                    phase["server_cpu_s"] = round(server_cpu_seconds(server) - cpu_before, 3)
                    phase["load"] = round(os.getloadavg()[0], 2)
                    this[name] = phase
                    o = phase["others"]
                    print(f"  others: {o['requests']} requests, p50 {o['p50_ms']:.1f} ms, "
                          f"p99 {o['p99_ms']:.1f} ms, {o['non_2xx'] + o['socket_errors']} errors"
                          + (f"; abuser {phase['abuser']['ok']} ok, {phase['abuser']['refused']} "
                             "refused" if "abuser" in phase else "")
                          + f"; server CPU {phase['server_cpu_s']:.2f} s"
                          + f" (load {phase['load']})", flush=True)  # fmt: skip
                    time.sleep(1.5)  # let the abuser's window empty before the next phase
                this["p99_ratio"] = round(
                    this["abuser"]["others"]["p99_ms"] / this["baseline"]["others"]["p99_ms"], 3
                )
                rounds.append(this)
        finally:
            server.terminate()
            server.wait(timeout=20)
            if redis_proc is not None:
                redis_proc.terminate()
                redis_proc.wait(timeout=10)
    result = summarise(vars(args) | {"shared_counters": bool(redis_url), "workers": 2}, rounds)
    result["load_average"] = {"start": load_start, "end": os.getloadavg()}
    report = render(result)
    print(report)
    if not args.no_results:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "noisy_neighbour.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / "noisy_neighbour.md").write_text(report + "\n")
    return 0


PHASES = ("baseline", "at_budget", "abuser")


def summarise(config: dict[str, Any], rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase, the median over rounds of each figure and the pooled percentiles of all
    its rounds; the headline ratio is the pooled p99's, next to the same ratio between
    the baseline's two halves (the noise) and the median of the per-round ratios."""

    def median_of(phase: str, key: str) -> float:
        return round(float(statistics.median(r[phase]["others"][key] for r in rounds)), 3)

    def server_cpu_of(phase: str) -> dict[str, float]:
        spent = [r[phase]["server_cpu_s"] for r in rounds if "server_cpu_s" in r[phase]]
        return {"server_cpu_s": round(float(statistics.median(spent)), 3)} if spent else {}

    def runs(phase: str, which: slice = slice(None)) -> list[dict[str, Any]]:
        return [r[phase]["others"] for r in rounds[which]]

    phases = [phase for phase in PHASES if phase in rounds[0]]
    pooled = {
        phase: {f"p{p}_ms": pooled_percentile(runs(phase), p) for p in (50, 90, 99)}
        for phase in phases
    }
    # The same statistic between two halves of the baseline alone: what the run cannot
    # tell apart from noise.
    halves = [pooled_percentile(runs("baseline", slice(k, None, 2)), 99) for k in (0, 1)]
    for r in rounds:  # the grids served the pooling; the results keep the summary
        for phase in phases:
            r[phase]["others"].pop("quantiles", None)
    abuse = [r["abuser"]["abuser"] for r in rounds]
    throttle = [a["throttled_after_budget_s"] for a in abuse if a["throttled_after_budget_s"]]
    return {
        "config": config,
        "rounds": rounds,
        "phases": {
            phase: {key: median_of(phase, key) for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms")}
            | server_cpu_of(phase)
            | {
                "requests": sum(r[phase]["others"]["requests"] for r in rounds),
                "errors": sum(
                    r[phase]["others"]["non_2xx"] + r[phase]["others"]["socket_errors"]
                    for r in rounds
                ),
            }
            for phase in phases
        },
        "abuser": {
            "sent": sum(a["sent"] for a in abuse),
            "ok": sum(a["ok"] for a in abuse),
            "refused": sum(a["refused"] for a in abuse),
            "other": sum(a["other"] for a in abuse),
            "worst_throttle_after_budget_s": max(throttle) if throttle else None,
        },
        "pooled": pooled,
        "others_p99_ratio_pooled": round(
            pooled["abuser"]["p99_ms"] / pooled["baseline"]["p99_ms"], 3
        ),
        **(split_of_the_rise(pooled, rounds) if "at_budget" in phases else {}),
        "baseline_halves_p99_ratio": round(halves[1] / halves[0], 3) if len(rounds) > 1 else None,
        "others_p99_ratio": round(statistics.median(r["p99_ratio"] for r in rounds), 3),
        "round_p99_ratios": [r["p99_ratio"] for r in rounds],
        "target_p99_ratio": 1.10,
    }


def split_of_the_rise(
    pooled: dict[str, dict[str, float]], rounds: list[dict[str, Any]]
) -> dict[str, Any]:
    """The others' pooled p99 rise split at the at-budget phase: the requests the tenant
    is allowed, then its refused surplus; and what the tenant got while at its budget."""
    at_budget = [r["at_budget"]["abuser"] for r in rounds]
    return {
        "server_cpu_per_refusal_ms": cpu_per_refusal(rounds),
        "at_budget_p99_ratio_pooled": round(
            pooled["at_budget"]["p99_ms"] / pooled["baseline"]["p99_ms"], 3
        ),
        "surplus_p99_ratio_pooled": round(
            pooled["abuser"]["p99_ms"] / pooled["at_budget"]["p99_ms"], 3
        ),
        "at_budget_tenant": {
            "sent": sum(a["sent"] for a in at_budget),
            "ok": sum(a["ok"] for a in at_budget),
            "refused": sum(a["refused"] for a in at_budget),
        },
    }


def cpu_per_refusal(rounds: list[dict[str, Any]]) -> float | None:
    """The server CPU one refused request costs: the abuser phase's CPU minus the
    at-budget phase's, over the refusals it added (both phases serve the same others and
    about the same budget), median over the rounds. Wall-clock free: what the surplus
    costs whatever else the machine runs."""
    costs = []
    for r in rounds:
        if "server_cpu_s" not in r["abuser"] or "server_cpu_s" not in r["at_budget"]:
            return None
        extra = r["abuser"]["abuser"]["refused"] - r["at_budget"]["abuser"]["refused"]
        if extra > 0:
            spent = r["abuser"]["server_cpu_s"] - r["at_budget"]["server_cpu_s"]
            costs.append(1000 * spent / extra)
    return round(float(statistics.median(costs)), 3) if costs else None


def render(result: dict[str, Any]) -> str:
    cfg, ph, ab = result["config"], result["phases"], result["abuser"]
    load = result["load_average"]
    lines = [
        "# Noisy neighbour",
        "",
        f"{cfg['tenants']} tenants at {cfg['rate']} req/s each (wrk, one connection per "
        f"tenant); one abuser at {cfg['quota'] * 10} req/s against a quota of "
        f"{cfg['quota']}/s on {cfg.get('abuser_connections', 10)} connections; refusals held "
        f"{'as the server defaults' if cfg.get('hold') is None else str(cfg['hold']) + ' s'} "
        "at the quota gate; 2 uvicorn workers; counters "
        f"{'shared (redis)' if cfg['shared_counters'] else 'per worker'}; "
        f"{cfg['seconds']:.0f} s per phase, {cfg['rounds']} alternating rounds. "
        f"Load average {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} at the end.",
        "",
        "| phase | others' requests | errors | p50 ms | p90 ms | p99 ms (median of rounds) "
        "| server CPU s per phase (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ph:
        p = ph[name]
        lines.append(
            f"| {name} | {p['requests']} | {p['errors']} | {p['p50_ms']} | {p['p90_ms']} "
            f"| {p['p99_ms']} | {p.get('server_cpu_s', '')} |"
        )
    pooled = result["pooled"]
    lines += [
        "",
        "All the rounds' requests of a phase pooled (one distribution per phase):",
        "",
        "| phase | p50 ms | p90 ms | p99 ms |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {pooled[name]['p50_ms']} | {pooled[name]['p90_ms']} "
            f"| {pooled[name]['p99_ms']} |"
            for name in pooled
        ),
        "",
        f"Others' p99 with the abuser / without: **{result['others_p99_ratio_pooled']}** "
        f"(pooled; target <= {result['target_p99_ratio']}). The same ratio between the "
        f"baseline's even and odd rounds, which differ by nothing but noise: "
        f"{result['baseline_halves_p99_ratio']}. Median of the rounds' own ratios: "
        f"{result['others_p99_ratio']}; per round: "
        f"{', '.join(str(r) for r in result['round_p99_ratios'])}.",
        "",
        *split_lines(result),
        f"Abuser: {ab['sent']} sent, {ab['ok']} served, {ab['refused']} refused (429), "
        f"{ab['other']} other; first 429 at most {ab['worst_throttle_after_budget_s']} s "
        "after its budget was spent (target: within 1 s).",
        "",
        "| round | baseline p99 ms | abuser-phase p99 ms | ratio | load |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in result["rounds"]:
        lines.append(
            f"| {r['round']} | {r['baseline']['others']['p99_ms']:.2f} | "
            f"{r['abuser']['others']['p99_ms']:.2f} | {r['p99_ratio']} | "
            f"{r['baseline']['load']} / {r['abuser']['load']} |"
        )
    return "\n".join(lines)


def split_lines(result: dict[str, Any]) -> list[str]:
    if "at_budget_p99_ratio_pooled" not in result:
        return []
    t = result["at_budget_tenant"]
    return [
        f"Split at the same tenant sending exactly its budget ({t['sent']} sent, {t['ok']} "
        f"served, {t['refused']} refused): others' pooled p99 at_budget / baseline "
        f"**{result['at_budget_p99_ratio_pooled']}** (the requests it is allowed), "
        f"abuser / at_budget **{result['surplus_p99_ratio_pooled']}** (what its refused "
        "surplus still costs). Server CPU per refused request (abuser phase minus "
        f"at-budget phase, over the refusals it added): {result['server_cpu_per_refusal_ms']} ms.",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())

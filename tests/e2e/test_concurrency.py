"""Many tenants at once against a real server with two worker processes.

uvicorn runs ``server_app`` (the real app from the environment, exactly as
``tenantry serve`` builds it, plus test-only routes) with ``--workers 2`` on the test
run's own database, on a socket the test binds and hands over (no port race). Twenty-plus
tenants, each signed in as its owner, send 1,000+ requests interleaved and concurrently:

* reads that report the tenant as the context, the database transaction
  (``app.current_tenant_id``) and RLS see it, and the worker that answered;
* writes (a service created through the real API), whose rows are checked afterwards:
  each in its caller's tenant, as many as were acknowledged;
* refusals (the caller's own cookies with a tampered ``tenant_sig``), which log a
  security event;
* requests the client abandons on purpose (a short timeout while the server sleeps inside
  the request's transaction, or a cancelled task). Only those may end without an answer:
  any other timeout or error fails the test.

Every answer must hold only its caller's tenant — including the answers that come *after*
the abandonments, on pooled connections the abandoned requests used. Both workers must
have answered. Finally *every* JSON log line that names one of our request ids — the
access line, security events, guard lines, the route's own line — must name the
caller's tenant and user or none: a context variable leaking from one request into the
next would show as another tenant in some line. ``test_the_log_check_catches_a_leaking
_context_variable`` injects such a leak into a server and expects the check to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import select, text

from tenantry.auth.dependencies import CurrentTenant, TenantSession
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.routing import tenant_router
from tenantry.services.models import Service
from tenantry.settings import Settings
from tenantry.tenants.lifecycle import add_member, provision_tenant
from tests.factories import PASSWORD
from tests.helpers import TEST_KEYS
from tests.isolation.world import new_user

TENANTS = 22
REQUESTS_PER_TENANT = 48  # 22 x 48 = 1,056 in the concurrent phase, plus the check round
ABANDON_EVERY = 9  # roughly one request in nine is given up by the client midway
WRITE_EVERY = 7  # ... one in seven creates a service through the real API
REFUSE_EVERY = 11  # ... one in eleven carries a tampered tenant_sig (a security event)
CONCURRENCY = 48
SLOW_MS = 400
ABANDON_AFTER_S = 0.08


# ---------------------------------------------------------------- the server's app


def whoami_router() -> Any:
    router = tenant_router(prefix="/api/e2e", tags=["e2e (test only)"])

    @router.get("/whoami")
    def whoami(
        ctx: CurrentTenant, session: TenantSession, sleep_ms: int = 0, with_backend: bool = False
    ) -> dict[str, Any]:
        """The caller's tenant as the context, the database transaction and RLS see it
        (``with_backend``: also the server process and database backend that answered,
        which vary from call to call — so only on request: an attack run compares
        repeated reads)."""
        if sleep_ms:
            session.execute(text("select pg_sleep(:s)"), {"s": min(sleep_ms, 2000) / 1000})
        pinned, backend = session.execute(
            text("select current_setting('app.current_tenant_id', true), pg_backend_pid()")
        ).one()
        raw = session.execute(text("select distinct tenant_id::text from services")).scalars()
        names = session.scalars(select(Service.name)).all()
        # A line with nothing passed explicitly: its tenant and user come from the
        # request's context variables alone.
        structlog.get_logger("tests.e2e").info("e2e_whoami")
        answer = {
            "context": str(ctx.tenant_id),
            "pinned": pinned,
            "rls_tenants": sorted(raw),
            "services": sorted(names),
        }
        if with_backend:
            answer["backend"], answer["worker"] = backend, os.getpid()
        return answer

    return router


def server_app() -> FastAPI:
    """uvicorn factory for the worker processes: ``tenantry.wsgi`` plus /api/e2e/whoami."""
    from tenantry.wsgi import app_from_env

    if os.environ.get("E2E_INJECT_CONTEXT_LEAK"):
        _inject_context_leak()
    app = app_from_env()
    app.include_router(whoami_router())
    return app


def _inject_context_leak() -> None:
    """A deliberate bug, for the log check's own test: the edge middleware's "clear the
    context variables" leaves the previous request's tenant and user in place."""
    real_bind = structlog.contextvars.bind_contextvars
    real_clear = structlog.contextvars.clear_contextvars
    last: dict[str, Any] = {}

    def remembering_bind(**values: Any) -> Any:
        last.update({k: v for k, v in values.items() if k in ("tenant_id", "user_id") and v})
        return real_bind(**values)

    def leaky_clear() -> None:
        real_clear()
        real_bind(**last)

    structlog.contextvars.bind_contextvars = remembering_bind
    structlog.contextvars.clear_contextvars = leaky_clear


# ---------------------------------------------------------------- fixtures


@dataclass
class Tenant:
    id: str
    slug: str
    email: str
    cookies: dict[str, str] = field(default_factory=dict)
    user_id: str = ""


@pytest.fixture(scope="module")
def tenants(db: Database) -> list[Tenant]:
    out = []
    for n in range(TENANTS):
        slug = f"conc-{n:02d}-{uuid.uuid4().hex[:6]}"
        ref = provision_tenant(db, slug=slug, name=f"Concurrent {slug}")
        email = f"owner@{slug}.test"
        add_member(db, tenant_id=ref.id, user_id=new_user(db, email), role="owner")
        with db.system_session(reason="concurrency test services") as s:
            s.add_all(
                Service(tenant_id=ref.id, slug=f"svc-{k}", name=f"{slug} service {k}",
                        price_cents=1000, duration_minutes=30)
                for k in range(3)
            )  # fmt: skip
        out.append(Tenant(str(ref.id), slug, email))
    return out


def start_server(
    settings: Settings, urls: DatabaseUrls, log: Path, *, workers: int, extra_env: dict[str, str]
) -> tuple[str, subprocess.Popen[bytes], socket.socket]:
    """``uvicorn --workers N`` on the test database, on a socket bound here and handed
    over (``--fd``): the port is ours from the start, no other process can take it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    # Not PYTHONUNBUFFERED: unbuffered, print() writes a line and its newline in two
    # system calls, and the two workers' log lines interleave; buffered with flush=True
    # (structlog's PrintLogger) each line is one write.
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        "DATABASE_URL": urls.admin.render_as_string(hide_password=False),
        "TENANTRY_DATA_DIR": str(settings.data_dir),
        "TENANTRY_DATABASE_NAME": settings.database_name,
        "TENANTRY_SECRET_KEYS": TEST_KEYS,
        "TENANTRY_LOG_JSON": "true",
        "TENANTRY_LOGIN_FAILURES_PER_ACCOUNT": "1000/minute",
        "TENANTRY_LOGIN_ATTEMPTS_PER_ADDRESS": "10000/minute",
        **extra_env,
    }
    # A long keep-alive: on a busy machine an idle pooled connection closed by the server
    # just as the client reuses it is an error no request of ours caused.
    cmd = [
        sys.executable, "-m", "uvicorn", "tests.e2e.test_concurrency:server_app", "--factory",
        "--workers", str(workers), "--fd", str(sock.fileno()), "--timeout-keep-alive", "120",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, pass_fds=(sock.fileno(),),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log)
    except BaseException:
        _stop(proc)
        sock.close()
        raise
    return base, proc, sock


@contextlib.contextmanager
def tenantry_server(
    settings: Settings, database_urls: DatabaseUrls, log: Path, **extra_env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``uvicorn --workers 2`` of ``server_app`` on the test database; yields (base URL,
    process). ``extra_env``: more settings (the PgBouncer test's pooler URL)."""
    base, proc, sock = start_server(settings, database_urls, log, workers=2, extra_env=extra_env)
    try:
        yield base, proc
    finally:
        _stop(proc)
        sock.close()


@pytest.fixture(scope="module")
def server(settings: Settings, database_urls: DatabaseUrls, tmp_path_factory) -> Any:
    """``uvicorn --workers 2`` on the test database; yields (base URL, log file, process)."""
    log = tmp_path_factory.mktemp("server") / "stdout.jsonl"
    with tenantry_server(settings, database_urls, log) as (base, proc):
        yield base, log, proc


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy in time: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
        proc.wait(timeout=10)


# ---------------------------------------------------------------- the run


@dataclass
class Outcome:
    tenant: Tenant
    request_id: str
    path: str
    kind: str = "read"  # read | write | refuse | abandon
    status: int | None = None
    body: Any = None
    abandoned: bool = False  # given up on purpose, as planned
    error: str = ""  # anything else that kept an answer from us


async def _login(client: httpx.AsyncClient, t: Tenant) -> None:
    # Sign-ins verify argon2id at full cost and arrive all at once: on a loaded 2-core
    # machine one took 26 s, past the client's default timeout. Not what is measured.
    r = await client.post(
        "/api/auth/login",
        json={"email": t.email, "password": PASSWORD, "tenant": t.slug},
        timeout=180,
    )
    assert r.status_code == 200, r.text
    t.cookies = dict(r.cookies)
    t.user_id = str(r.json()["user"]["id"])
    client.cookies.clear()


def _cookie_header(t: Tenant, *, tamper: bool) -> str:
    cookies = dict(t.cookies)
    if tamper:
        name = next(k for k in cookies if k.endswith("tenant_sig"))
        cookies[name] = cookies[name][:-4] + (
            "AAAA" if not cookies[name].endswith("AAAA") else "BBBB"
        )
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def _one(
    client: httpx.AsyncClient, sem: asyncio.Semaphore, t: Tenant, kind: str, how: str | None
) -> Outcome:
    rid = f"e2e-{t.slug}-{uuid.uuid4().hex[:12]}"
    path = {
        "read": "/api/e2e/whoami?with_backend=true",
        "write": "/api/admin/services",
        "refuse": "/api/e2e/whoami",
        "abandon": f"/api/e2e/whoami?sleep_ms={SLOW_MS}",
    }[kind]
    out = Outcome(t, rid, path, kind)
    headers = {"x-request-id": rid, "cookie": _cookie_header(t, tamper=kind == "refuse")}
    async with sem:
        try:
            if kind == "write":
                slug = f"e2e-w-{uuid.uuid4().hex[:10]}"
                body = {"slug": slug, "name": f"{t.slug} write {slug}", "price_cents": 100,
                        "duration_minutes": 30}  # fmt: skip
                r = await client.post(path, headers=headers, json=body)
            elif how == "timeout":
                r = await client.get(path, headers=headers, timeout=ABANDON_AFTER_S)
            elif how == "cancel":
                r = await asyncio.wait_for(client.get(path, headers=headers), ABANDON_AFTER_S)
            else:
                r = await client.get(path, headers=headers)
        except (httpx.TimeoutException, TimeoutError) as exc:
            if kind == "abandon":
                out.abandoned = True
            else:
                out.error = f"{type(exc).__name__}: {exc}"
            return out
        except httpx.HTTPError as exc:
            out.error = f"{type(exc).__name__}: {exc}"
            return out
    out.status, out.body = r.status_code, r.json()
    return out


def _plan(tenants: list[Tenant], per_tenant: int, rng: random.Random, *, abandon: bool = True
          ) -> list[tuple[Tenant, str, str | None]]:  # fmt: skip
    plan: list[tuple[Tenant, str, str | None]] = []
    for t in tenants:
        for n in range(per_tenant):
            if abandon and n % ABANDON_EVERY == ABANDON_EVERY - 1:
                plan.append((t, "abandon", "timeout" if n % 2 else "cancel"))
            elif n % WRITE_EVERY == WRITE_EVERY - 1:
                plan.append((t, "write", None))
            elif n % REFUSE_EVERY == REFUSE_EVERY - 1:
                plan.append((t, "refuse", None))
            else:
                plan.append((t, "read", None))
    rng.shuffle(plan)
    return plan


def _check(o: Outcome) -> None:
    assert not o.error, (o.kind, o.path, o.error)
    if o.kind == "refuse":
        assert (o.status, o.body["error"]["code"]) == (403, "tenant_sig_invalid"), o.body
        return
    if o.kind == "write":
        assert o.status == 201, (o.status, o.body)
        return
    body = o.body
    assert o.status == 200, (o.path, o.status, body)
    if o.path.startswith("/api/tenant/current"):  # (the interleaved runs' other read)
        assert body["tenant"]["id"] == o.tenant.id, body
        return
    assert body["context"] == o.tenant.id, body
    assert body["pinned"] == o.tenant.id, body  # the transaction's own tenant, not a stale one
    assert body["rls_tenants"] == [o.tenant.id], body
    assert body["services"] and all(n.startswith(o.tenant.slug) for n in body["services"]), body


async def _run(
    base: str, tenants: list[Tenant], *, per_tenant: int, abandon: bool = True
) -> tuple[list[Outcome], list[Outcome], float]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(*(_login(client, t) for t in tenants))
        sem = asyncio.Semaphore(CONCURRENCY)
        plan = _plan(tenants, per_tenant, random.Random(5), abandon=abandon)
        started = time.monotonic()
        first = await asyncio.gather(*(_one(client, sem, t, k, h) for t, k, h in plan))
        elapsed = time.monotonic() - started
        # Let the abandoned requests finish on the server, then check every connection again.
        await asyncio.sleep(SLOW_MS / 1000 + 0.5)
        again = [(t, "read", None) for t in tenants for _ in range(6)]
        random.Random(6).shuffle(again)
        second = await asyncio.gather(*(_one(client, sem, t, k, h) for t, k, h in again))
    return first, second, elapsed


# Fields of a log line that name a tenant or a user.
TENANT_FIELDS = ("tenant_id", "tenant", "session_tenant", "sig_tenant", "host_tenant",
                 "context_tenant", "row_tenant")  # fmt: skip
USER_FIELDS = ("user_id", "user")


def log_problems(log: Path, sent: list[Outcome]) -> tuple[list[str], dict[str, int]]:
    """Every JSON line naming one of our request ids must name its caller's tenant and
    user, or none. Returns the problems and the number of lines per event."""
    callers = {o.request_id: o.tenant for o in sent}
    problems: list[str] = []
    events: dict[str, int] = {}
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        t = callers.get(entry.get("request_id", ""))
        if t is None:
            continue
        events[entry.get("event", "?")] = events.get(entry.get("event", "?"), 0) + 1
        for name in TENANT_FIELDS:
            if entry.get(name) not in (None, "", t.id):
                problems.append(f"{entry['request_id']} {entry.get('event')}: {name}={entry[name]}")
        for name in USER_FIELDS:
            if entry.get(name) not in (None, "", t.user_id):
                problems.append(f"{entry['request_id']} {entry.get('event')}: {name}={entry[name]}")
    return problems, events


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_concurrent_tenants_on_two_workers_only_ever_see_their_own_data(server, tenants, db):
    base, log, proc = server
    first, second, elapsed = asyncio.run(_run(base, tenants, per_tenant=REQUESTS_PER_TENANT))
    abandoned = [o for o in first if o.abandoned]
    answered = [o for o in [*first, *second] if not o.abandoned]
    by_kind = {k: sum(o.kind == k for o in first) for k in ("read", "write", "refuse", "abandon")}
    print(
        f"\n{len(first)} concurrent requests from {len(tenants)} tenants in {elapsed:.1f}s "
        f"({by_kind}), {len(abandoned)} abandoned midway as planned, "
        f"{len(second)} checked after the abandonments"
    )
    assert len(first) >= 1000 and len({o.tenant.id for o in first}) >= 20
    # Only planned abandons may end without an answer; at least some really were given up.
    errors = [(o.kind, o.error) for o in answered if o.error]
    assert not errors, f"{len(errors)} requests failed unplanned: {errors[:5]}"
    assert len(abandoned) >= by_kind["abandon"] // 2, "the client must really give up"
    for o in answered:
        _check(o)
    workers = {o.body["worker"] for o in answered if o.kind == "read"}
    assert len(workers) == 2, f"both workers must answer, saw {workers}"

    # Writes: each acknowledged row is in its caller's tenant, and no other row was made.
    writes = {o.tenant.id: 0 for o in first}
    for o in first:
        writes[o.tenant.id] += o.kind == "write"
    with db.system_session(reason="concurrency test: check the written rows") as s:
        rows = s.execute(
            select(Service.tenant_id, Service.name).where(Service.slug.like("e2e-w-%"))
        ).all()
    mine = {t.id: t for t in tenants}
    rows = [(str(tid), name) for tid, name in rows if str(tid) in mine]
    assert all(name.startswith(mine[tid].slug) for tid, name in rows), rows[:5]
    made = {tid: sum(r[0] == tid for r in rows) for tid in writes}
    assert made == writes, "rows written per tenant differ from the 201s"

    # The logs: every line of every request names its caller's tenant and user, or none.
    _stop(proc)
    problems, events = log_problems(log, [*first, *second])
    print(f"log lines checked per event: {events}")
    assert not problems, f"{len(problems)} log lines name another tenant/user: {problems[:5]}"
    assert events.get("request", 0) >= len(answered), "an answered request has no access line"
    assert events.get("security_event", 0) >= by_kind["refuse"]
    assert events.get("e2e_whoami", 0) >= sum(o.kind == "read" for o in answered)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_log_check_catches_a_leaking_context_variable(
    settings, database_urls, tenants, tmp_path
):
    """The same run, smaller, against a server whose edge middleware leaves the previous
    request's context variables in place: the log check must name the leak."""
    log = tmp_path / "leaky.jsonl"
    base, proc, sock = start_server(
        settings, database_urls, log, workers=1, extra_env={"E2E_INJECT_CONTEXT_LEAK": "1"}
    )
    try:
        first, second, _ = asyncio.run(_run(base, tenants[:6], per_tenant=12, abandon=False))
    finally:
        _stop(proc)
        sock.close()
    problems, _ = log_problems(log, [*first, *second])
    assert problems, "a context variable leaking between requests went unnoticed"

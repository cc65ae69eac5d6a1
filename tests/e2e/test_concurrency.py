"""Many tenants at once against a real server with two worker processes.

uvicorn runs ``server_app`` (the real app from the environment, exactly as
``tenantry serve`` builds it, plus one test-only route) with ``--workers 2`` on the
test run's own database. Twenty-plus tenants, each signed in as its owner, send 1,000+
requests interleaved and concurrently; some are abandoned by the client midway (a
timeout while the server sleeps inside the request's transaction, or a cancelled task).
Every answer must hold only its caller's tenant — the context, the tenant the database
transaction is pinned to (``app.current_tenant_id``), and the rows RLS lets through —
including the answers that come *after* the cancellations, on pooled connections the
abandoned requests used. Finally the server's JSON log lines (stdout) must tie each
request id we sent to the right tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
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
from fastapi import FastAPI
from sqlalchemy import select, text

from tenantry.auth.dependencies import CurrentTenant, TenantSession
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.routing import tenant_router
from tenantry.services.models import Service
from tenantry.settings import Settings
from tenantry.tenants.lifecycle import add_member, provision_tenant
from tests.conftest import TEST_KEYS
from tests.factories import PASSWORD
from tests.isolation.leaky import free_port
from tests.isolation.world import new_user

TENANTS = 22
REQUESTS_PER_TENANT = 48  # 22 x 48 = 1,056 in the concurrent phase, plus the check round
ABANDON_EVERY = 9  # roughly one request in nine is given up by the client midway
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
        (``with_backend``: also the server process that answered, which varies from call
        to call — so only on request: an attack run compares repeated reads)."""
        if sleep_ms:
            session.execute(text("select pg_sleep(:s)"), {"s": min(sleep_ms, 2000) / 1000})
        pinned, backend = session.execute(
            text("select current_setting('app.current_tenant_id', true), pg_backend_pid()")
        ).one()
        raw = session.execute(text("select distinct tenant_id::text from services")).scalars()
        names = session.scalars(select(Service.name)).all()
        answer = {
            "context": str(ctx.tenant_id),
            "pinned": pinned,
            "rls_tenants": sorted(raw),
            "services": sorted(names),
        }
        if with_backend:
            answer["backend"] = backend
        return answer

    return router


def server_app() -> FastAPI:
    """uvicorn factory for the worker processes: ``tenantry.wsgi`` plus /api/e2e/whoami."""
    from tenantry.wsgi import app_from_env

    app = app_from_env()
    app.include_router(whoami_router())
    return app


# ---------------------------------------------------------------- fixtures


@dataclass
class Tenant:
    id: str
    slug: str
    email: str
    cookies: dict[str, str] = field(default_factory=dict)


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


@contextlib.contextmanager
def tenantry_server(
    settings: Settings, database_urls: DatabaseUrls, log: Path, **extra_env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``uvicorn --workers 2`` of ``server_app`` on the test database; yields (base URL,
    process). ``extra_env``: more settings (the PgBouncer test's pooler URL)."""
    port = free_port()
    # Not PYTHONUNBUFFERED: unbuffered, print() writes a line and its newline in two
    # system calls, and the two workers' log lines interleave; buffered with flush=True
    # (structlog's PrintLogger) each line is one write.
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        "DATABASE_URL": database_urls.admin.render_as_string(hide_password=False),
        "TENANTRY_DATA_DIR": str(settings.data_dir),
        "TENANTRY_DATABASE_NAME": settings.database_name,
        "TENANTRY_SECRET_KEYS": TEST_KEYS,
        "TENANTRY_LOG_JSON": "true",
        "TENANTRY_LOGIN_FAILURES_PER_ACCOUNT": "1000/minute",
        "TENANTRY_LOGIN_ATTEMPTS_PER_ADDRESS": "10000/minute",
        **extra_env,
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "tests.e2e.test_concurrency:server_app", "--factory",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log)
        yield base, proc
    finally:
        _stop(proc)


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
    status: int | None = None
    body: Any = None
    abandoned: bool = False


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
    client.cookies.clear()


async def _one(
    client: httpx.AsyncClient, sem: asyncio.Semaphore, t: Tenant, path: str, abandon: str | None
) -> Outcome:
    rid = f"e2e-{t.slug}-{uuid.uuid4().hex[:12]}"
    out = Outcome(t, rid, path)
    headers = {
        "x-request-id": rid,
        "cookie": "; ".join(f"{k}={v}" for k, v in t.cookies.items()),
    }
    async with sem:
        try:
            if abandon == "timeout":
                r = await client.get(path, headers=headers, timeout=ABANDON_AFTER_S)
            elif abandon == "cancel":
                r = await asyncio.wait_for(client.get(path, headers=headers), ABANDON_AFTER_S)
            else:
                r = await client.get(path, headers=headers)
        except (httpx.TimeoutException, TimeoutError):
            out.abandoned = True
            return out
    out.status, out.body = r.status_code, r.json()
    return out


def _plan(
    tenants: list[Tenant], per_tenant: int, rng: random.Random
) -> list[tuple[Tenant, str, str | None]]:
    paths = ["/api/e2e/whoami", "/api/tenant/current", "/api/e2e/whoami?sleep_ms=5"]
    plan: list[tuple[Tenant, str, str | None]] = []
    for t in tenants:
        for n in range(per_tenant):
            if n % ABANDON_EVERY == ABANDON_EVERY - 1:
                how = "timeout" if n % 2 else "cancel"
                plan.append((t, f"/api/e2e/whoami?sleep_ms={SLOW_MS}", how))
            else:
                plan.append((t, paths[n % len(paths)], None))
    rng.shuffle(plan)
    return plan


def _check(o: Outcome) -> None:
    assert o.status == 200, (o.path, o.status, o.body)
    if o.path.startswith("/api/tenant/current"):
        assert o.body["tenant"]["id"] == o.tenant.id
        return
    body = o.body
    assert body["context"] == o.tenant.id, body
    assert body["pinned"] == o.tenant.id, body  # the transaction's own tenant, not a stale one
    assert body["rls_tenants"] == [o.tenant.id], body
    assert body["services"] and all(n.startswith(o.tenant.slug) for n in body["services"]), body


async def _run(base: str, tenants: list[Tenant]) -> tuple[list[Outcome], list[Outcome], float]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=20, limits=limits) as client:
        await asyncio.gather(*(_login(client, t) for t in tenants))
        sem = asyncio.Semaphore(CONCURRENCY)
        plan = _plan(tenants, REQUESTS_PER_TENANT, random.Random(5))
        started = time.monotonic()
        first = await asyncio.gather(*(_one(client, sem, t, p, a) for t, p, a in plan))
        elapsed = time.monotonic() - started
        # Let the abandoned requests finish on the server, then check every connection again.
        await asyncio.sleep(SLOW_MS / 1000 + 0.5)
        again = _plan(tenants, 6, random.Random(6))
        second = await asyncio.gather(*(_one(client, sem, t, p, None) for t, p, _ in again))
    return first, second, elapsed


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_concurrent_tenants_on_two_workers_only_ever_see_their_own_data(server, tenants):
    base, log, proc = server
    first, second, elapsed = asyncio.run(_run(base, tenants))
    abandoned = [o for o in first if o.abandoned]
    done = [o for o in first if not o.abandoned]
    print(
        f"\n{len(first)} concurrent requests from {len(tenants)} tenants in {elapsed:.1f}s "
        f"({len(first) / elapsed:.0f}/s), {len(abandoned)} abandoned midway, "
        f"{len(second)} checked after the abandonments"
    )
    assert len(first) >= 1000 and len({o.tenant.id for o in first}) >= 20
    assert len(abandoned) >= 50, "the client must really give up on some requests"
    for o in done + list(second):
        _check(o)

    # The server's JSON logs tie each request id to the right tenant.
    _stop(proc)
    logged: dict[str, str | None] = {}
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "request" and entry.get("request_id", "").startswith("e2e-"):
            logged[entry["request_id"]] = entry.get("tenant_id")
    answered = done + list(second)
    missing = [o.request_id for o in answered if o.request_id not in logged]
    assert not missing, f"{len(missing)} answered requests have no log line: {missing[:5]}"
    wrong = [
        (o.request_id, logged[o.request_id])
        for o in [*answered, *abandoned]
        if o.request_id in logged and logged[o.request_id] != o.tenant.id
    ]
    assert not wrong, f"log lines with the wrong tenant: {wrong[:5]}"
    print(
        f"{len(logged)} log lines checked, {sum(o.request_id in logged for o in abandoned)} "
        "of them for abandoned requests"
    )

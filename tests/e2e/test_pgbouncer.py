"""The app role through a real PgBouncer in transaction mode (TENANTRY_APP_DATABASE_URL).

PgBouncer hands each transaction whichever server connection is free, so a tenant set
for the session (rather than the transaction) would leak into the next client's work.
Here twelve tenants share a pool of exactly two server connections: a two-worker
Tenantry server serves interleaved requests through the pooler, some abandoned by the
client midway; statements are cancelled server-side in the middle of pinned
transactions; every answer must be its caller's alone, and afterwards each server
connection is asked, on the server, what tenant it still carries: none.

Debian 12's PgBouncer is 1.18, which cannot keep server-side prepared statements in
transaction mode, so TENANTRY_APP_DATABASE_PREPARE stays off (its default): the many
repeated statements below would otherwise fail with "prepared statement does not exist".
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from tenantry.db.bootstrap import pooled_url
from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.services.models import Service
from tenantry.tenants.lifecycle import add_member, provision_tenant
from tests.e2e.interleave import Plan, run_interleaved
from tests.e2e.test_concurrency import Tenant, _check, tenantry_server
from tests.isolation.world import new_user
from tests.pgbouncer import Bouncer, pgbouncer_binary, run_pgbouncer

pytestmark = pytest.mark.slow

TENANTS = 12
PER_TENANT = 20  # 240 requests, one in eight abandoned by the client midway
POOL = 2  # server connections PgBouncer may open


@pytest.fixture(scope="module")
def bouncer(database_urls) -> Any:
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    with run_pgbouncer(database_urls, pool_size=POOL) as running:
        yield running


@pytest.fixture(scope="module")
def tenants(db: Database) -> list[Tenant]:
    out = []
    for n in range(TENANTS):
        slug = f"pgb-{n:02d}-{uuid.uuid4().hex[:6]}"
        ref = provision_tenant(db, slug=slug, name=f"Pooled {slug}")
        email = f"owner@{slug}.test"
        add_member(db, tenant_id=ref.id, user_id=new_user(db, email), role="owner")
        with db.system_session(reason="pgbouncer test services") as s:
            s.add_all(
                Service(tenant_id=ref.id, slug=f"svc-{k}", name=f"{slug} service {k}",
                        price_cents=1000, duration_minutes=30)
                for k in range(2)
            )  # fmt: skip
        out.append(Tenant(str(ref.id), slug, email))
    return out


@pytest.fixture(scope="module")
def pooled_server(settings, database_urls, bouncer: Bouncer, tmp_path_factory) -> Any:
    log = tmp_path_factory.mktemp("pgbouncer-server") / "stdout.jsonl"
    url = bouncer.url(database_urls.database)
    with tenantry_server(settings, database_urls, log, TENANTRY_APP_DATABASE_URL=url) as running:
        yield running


def _server_side_settings(bouncer: Bouncer, database_urls) -> dict[int, set[tuple[Any, Any]]]:
    """What each server connection carries, asked on it: two clients each hold a
    transaction at once, so both of PgBouncer's server connections answer."""
    seen: dict[int, set[tuple[Any, Any]]] = {}
    query = (
        "select pg_backend_pid(), current_setting('app.current_tenant_id', true),"
        " current_setting('app.current_user_id', true)"
    )
    for _ in range(5):
        conns = [psycopg.connect(bouncer.conninfo(database_urls)) for _ in range(POOL)]
        try:
            rows = [c.execute(query).fetchone() for c in conns]  # each holds a transaction
            for row in rows:
                assert row is not None
                seen.setdefault(row[0], set()).add((row[1], row[2]))
        finally:
            for c in conns:
                c.rollback()
                c.close()
    return seen


def test_tenants_interleaved_through_pgbouncer_only_ever_see_their_own_rows(
    pooled_server, tenants, bouncer, database_urls
):
    base, _ = pooled_server
    abandoned, answered = run_interleaved(
        base, tenants, Plan(per_tenant=PER_TENANT, whoami="/api/e2e/whoami?with_backend=true")
    )
    assert len(abandoned) >= 10, "the client must really give up on some requests"
    for o in answered:
        _check(o)
    backends = {o.body["backend"] for o in answered if "backend" in (o.body or {})}
    print(
        f"\n{len(answered)} answers from {len(tenants)} tenants over {len(backends)} server "
        f"connection(s), {len(abandoned)} abandoned midway"
    )
    assert 1 <= len(backends) <= POOL  # many clients, few server connections

    leftovers = _server_side_settings(bouncer, database_urls)
    assert len(leftovers) == POOL
    assert all(values <= {(None, None), ("", "")} for values in leftovers.values()), leftovers


def test_a_statement_cancelled_mid_transaction_leaves_no_tenant_on_the_pooled_connection(
    db, tenants, bouncer, database_urls
):
    """Cancel (server-side, through the pooler) a statement inside a pinned transaction,
    then serve other tenants on the same two server connections."""
    pooled = replace(database_urls, app_pooled=pooled_url(bouncer.url(database_urls.database),
                                                          database_urls.app))  # fmt: skip
    database = Database(pooled, pool_size=4, max_overflow=0)
    ids = [uuid.UUID(t.id) for t in tenants]
    try:
        for n in range(12):
            victim = ids[n % len(ids)]
            with tenant_context(TenantContext(tenant_id=victim)), database.session() as s:
                driver = s.connection().connection.driver_connection
                assert isinstance(driver, psycopg.Connection)
                timer = threading.Timer(0.05, driver.cancel_safe)
                timer.start()
                with pytest.raises(OperationalError, match="cancel"):
                    s.execute(text("select pg_sleep(3)"))
                timer.join()
                s.rollback()
            _assert_next_transaction_sees_only(database, ids[(n + 5) % len(ids)])
        with database.app_engine.connect() as conn:  # no context: nothing pinned, no rows
            assert conn.execute(text("select count(*) from services")).scalar() == 0
    finally:
        database.dispose()
    leftovers = _server_side_settings(bouncer, database_urls)
    assert all(values <= {(None, None), ("", "")} for values in leftovers.values()), leftovers


def test_a_statement_cancelled_on_the_loop_engine_leaves_no_tenant_on_the_pooled_connection(
    db, tenants, bouncer, database_urls
):
    """The same on the engine requests' units use: sync code in a greenlet on the event
    loop, psycopg's async connection, the cancel sent from the loop while it waits."""
    pooled = replace(database_urls, app_pooled=pooled_url(bouncer.url(database_urls.database),
                                                          database_urls.app))  # fmt: skip
    database = Database(pooled, pool_size=4, max_overflow=0)
    ids = [uuid.UUID(t.id) for t in tenants]

    def rounds() -> None:
        loop = asyncio.get_running_loop()
        for n in range(12):
            victim = ids[n % len(ids)]
            with tenant_context(TenantContext(tenant_id=victim)), database.session() as s:
                driver = s.connection().connection.driver_connection
                assert isinstance(driver, psycopg.AsyncConnection)
                cancels: list[asyncio.Task[None]] = []

                def cancel(driver: psycopg.AsyncConnection[Any] = driver) -> None:
                    cancels.append(loop.create_task(driver.cancel_safe()))

                loop.call_later(0.05, cancel)
                with pytest.raises(OperationalError, match="cancel"):
                    s.execute(text("select pg_sleep(3)"))
                assert cancels  # the statement ended because of our cancel
                s.rollback()
            _assert_next_transaction_sees_only(database, ids[(n + 5) % len(ids)])
        with database.loop_engine.sync_engine.connect() as conn:  # no context: no rows
            assert conn.execute(text("select count(*) from services")).scalar() == 0

    try:
        asyncio.run(run_on_loop(rounds))
    finally:
        database.dispose()
    leftovers = _server_side_settings(bouncer, database_urls)
    assert all(values <= {(None, None), ("", "")} for values in leftovers.values()), leftovers


def _assert_next_transaction_sees_only(database: Database, tenant: uuid.UUID) -> None:
    """After a cancelled statement, the pool's next transaction is pinned to ``tenant``
    alone and reads only its rows."""
    with tenant_context(TenantContext(tenant_id=tenant)), database.session() as s:
        pinned = s.scalar(text("select current_setting('app.current_tenant_id', true)"))
        visible = set(s.scalars(select(Service.tenant_id)))
    assert pinned == str(tenant) and visible == {tenant}

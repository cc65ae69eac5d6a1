"""A pooled connection never carries a tenant from one transaction into the next.

500 transactions over an app-role ``GuardedSession`` pool of exactly two connections,
from two threads at once, so each connection serves both tenants over and over. Each
transaction first reads ``current_setting('app.current_tenant_id', true)``: it must be
its own tenant — or, with no tenant context, '' / NULL and zero rows — never what a
previous transaction on that connection set. Some transactions commit, some roll back,
some fail half-way.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tenantry.contact.models import ContactSubmission
from tenantry.db.engine import Database, app_engine, loop_app_engine
from tenantry.db.loop import run_on_loop, run_to_end
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.guard import GuardedSession
from tenantry.services.models import Service
from tests.factories import make_tenant

TRANSACTIONS = 500
THREADS = 2
# What each transaction does, in rotation: commit a write, read only, roll back a write,
# fail on a bad statement, and run with no tenant context at all.
KINDS = ("commit", "read", "rollback", "error", "no_context", "read", "commit", "no_context")


@dataclass(frozen=True)
class Seen:
    kind: str
    tenant: uuid.UUID | None
    pid: int
    setting_at_start: str | None
    visible: frozenset[uuid.UUID]


@pytest.fixture(scope="module", params=["app_engine", "loop_app_engine", "plain_psycopg"])
def pool(db: Database, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The app's own engines (the pin travels in the BEGIN message; on the loop one,
    inside the first statement's wait) and a plain psycopg engine (the guard sends the
    pin after psycopg's BEGIN)."""
    options = {"pool_size": 2, "max_overflow": 0, "pool_timeout": 30}
    if request.param == "loop_app_engine":
        loop_engine = loop_app_engine(db.urls.app, **options)
        yield loop_engine.sync_engine  # used from greenlets on an event loop
        run_to_end(loop_engine.dispose())
        return
    if request.param == "app_engine":
        engine = app_engine(db.urls.app, **options)
    else:
        engine = create_engine(db.urls.app, **options)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def tenants(db: Database, pool: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """Two fresh tenants per pool (the final check counts every committed row of theirs)."""
    ids = []
    for _ in range(2):
        tenant = make_tenant(db, roles=("owner",))
        with db.system_session(reason="seed pool test") as s:
            s.add(Service(tenant_id=tenant.id, slug="svc", name="Svc", price_cents=1,
                          duration_minutes=5))  # fmt: skip
        ids.append(tenant.id)
    return ids[0], ids[1]


def one_transaction(maker: sessionmaker[Session], kind: str, tenant: uuid.UUID) -> Seen:
    ctx = None if kind == "no_context" else TenantContext(tenant_id=tenant)
    with tenant_context(ctx) if ctx else nullcontext(), maker() as session:
        first = session.execute(
            text("select current_setting('app.current_tenant_id', true), pg_backend_pid()")
        ).one()
        visible = frozenset(session.scalars(text("select distinct tenant_id from services")))
        seen = Seen(kind, ctx.tenant_id if ctx else None, first[1], first[0], visible)
        if kind in ("commit", "rollback"):
            session.add(ContactSubmission(name="pool", email="p@example.test", message=kind))
            session.flush()
        if kind == "error":
            with pytest.raises(DBAPIError):
                session.execute(text("select 1 / 0"))
        if kind == "commit":
            session.commit()
        else:
            session.rollback()
    return seen


def test_500_transactions_over_two_connections_never_inherit_a_tenant(db, pool, tenants):
    maker = sessionmaker(pool, class_=GuardedSession, expire_on_commit=False)
    results: list[list[Seen]] = [[] for _ in range(THREADS)]
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(TRANSACTIONS // THREADS):
                tenant = tenants[(i + n) % 2]  # the threads are always on opposite tenants
                results[n].append(one_transaction(maker, KINDS[(i + n) % len(KINDS)], tenant))
        except BaseException as exc:  # reported below, with the thread's traceback
            failures.append(exc)

    if pool.dialect.is_async:
        # A request's way: each transaction in a greenlet on one event loop, the workers
        # interleaved at every wait for the server.
        async def coroutine_worker(n: int) -> None:
            for i in range(TRANSACTIONS // THREADS):
                tenant = tenants[(i + n) % 2]
                kind = KINDS[(i + n) % len(KINDS)]
                results[n].append(await run_on_loop(one_transaction, maker, kind, tenant))

        async def both() -> None:
            await asyncio.gather(*(coroutine_worker(n) for n in range(THREADS)))

        asyncio.run(both())
    else:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    if failures:
        raise failures[0]
    seen = [s for per_thread in results for s in per_thread]
    assert len(seen) == TRANSACTIONS

    for s in seen:
        if s.tenant is None:
            assert s.setting_at_start in (None, ""), s
            assert s.visible == frozenset(), s
        else:
            assert s.setting_at_start == str(s.tenant), s
            assert s.visible == {s.tenant}, s

    # The pool really was two connections, each serving both tenants and no-context work.
    per_pid = {pid: {s.tenant for s in seen if s.pid == pid} for pid in {s.pid for s in seen}}
    assert len(per_pid) == 2
    assert all(served == {*tenants, None} for served in per_pid.values()), per_pid
    assert set(Counter(s.kind for s in seen)) == set(KINDS)

    # Committed writes landed in their own tenant; rolled-back ones left nothing.
    with db.system_session(reason="check pool test writes") as session:
        rows = session.execute(
            text(
                "select tenant_id, message from contact_submissions"
                " where name = 'pool' and tenant_id in (:a, :b)"
            ),
            {"a": tenants[0], "b": tenants[1]},
        ).all()
    committed = Counter(s.tenant for s in seen if s.kind == "commit")
    assert Counter(r.tenant_id for r in rows) == committed
    assert {r.message for r in rows} == {"commit"}

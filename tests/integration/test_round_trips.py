"""Pinning the tenant costs no round trip, and a dead pooled connection is replaced —
on both app engines: the blocking one (``thread``: the CLI, jobs, work handed to a
thread) and the loop one every request's unit uses (``loop``: sync code in a greenlet on
the event loop, psycopg's async connection).

Round trips are counted from libpq's protocol trace (``tests/roundtrips.py``): one per
``ReadyForQuery`` the server sends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.pin import begin_message, pin_statement, send_begin, send_begin_async
from tenantry.services.models import Service
from tests.factories import make_service, make_tenant
from tests.roundtrips import trace_engine

T = TypeVar("T")
WHERE = ["thread", "loop"]


def run_where(where: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn`` called plainly, or the way a request's unit runs it (``run_on_loop``)."""
    if where == "thread":
        return fn(*args)
    return asyncio.run(run_on_loop(fn, *args))


@pytest.fixture(scope="module")
def own_db(database_urls):
    """A Database of its own, so tracing its pool sees only this module's work."""
    database = Database(database_urls, pool_size=2, max_overflow=0)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def tenant_with_service(db):
    tenant = make_tenant(db, roles=("owner",))
    return tenant, make_service(db, tenant.id)


def test_the_pin_is_composed_from_uuids_only():
    tenant, user = uuid.uuid4(), uuid.uuid4()
    assert (
        begin_message((tenant, user))
        == (
            f"BEGIN; SET LOCAL app.current_tenant_id = '{tenant}';"
            f" SET LOCAL app.current_user_id = '{user}'"
        ).encode()
    )
    assert begin_message((tenant, None)).endswith(b"SET LOCAL app.current_user_id = ''")
    assert begin_message(None) == b"BEGIN"  # no context or system scope: nothing pinned
    assert begin_message(None, "SERIALIZABLE") == b"BEGIN ISOLATION LEVEL SERIALIZABLE"
    with pytest.raises(TypeError):
        pin_statement(f"{tenant}'; drop table tenants; --", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        begin_message(None, "SERIALIZABLE; drop table tenants")


@pytest.mark.parametrize("where", WHERE)
def test_a_single_statement_tenant_transaction_costs_no_more_round_trips_than_without_isolation(
    own_db, tenant_with_service, where
):
    tenant, service_id = tenant_with_service

    def read():
        with tenant_context(TenantContext(tenant_id=tenant.id)), own_db.session() as s:
            return s.scalar(select(Service.name).where(Service.id == service_id))

    engine = own_db.app_engine if where == "thread" else own_db.loop_engine
    with trace_engine(engine) as isolated:
        found = run_where(where, read)
    assert found is not None  # RLS let the row through: the transaction was pinned
    assert isolated.count > 0  # and the traced engine is the one the session used

    # The same transaction with no isolation at all: the migrator (BYPASSRLS), plain
    # psycopg through SQLAlchemy, no guard, no pin, the tenant written by hand.
    plain_engine = create_engine(own_db.urls.migrator)
    try:
        with trace_engine(plain_engine) as plain, Session(plain_engine) as s, s.begin():
            s.scalar(
                select(Service.name).where(Service.tenant_id == tenant.id, Service.id == service_id)
            )
    finally:
        plain_engine.dispose()

    assert plain.count == 3, plain.queries()  # BEGIN, SELECT, COMMIT
    assert isolated.count <= plain.count, isolated.queries()
    assert "SET LOCAL app.current_tenant_id" in isolated.queries()[0]


@pytest.mark.parametrize("where", WHERE)
def test_the_pin_is_transaction_local_and_honours_isolation_levels(
    own_db, tenant_with_service, where
):
    engine = own_db.app_engine if where == "thread" else own_db.loop_engine.sync_engine
    run_where(where, _pin_is_transaction_local, engine, tenant_with_service[0])


def _pin_is_transaction_local(engine, tenant):
    setting = text(
        "select current_setting('app.current_tenant_id', true),"
        " current_setting('transaction_isolation')"
    )
    with tenant_context(TenantContext(tenant_id=tenant.id)):
        with engine.connect() as conn:
            serializable = conn.execution_options(isolation_level="SERIALIZABLE")
            assert serializable.execute(setting).one() == (str(tenant.id), "serializable")
            conn.rollback()
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            pinned, _ = auto.execute(setting).one()
            # AUTOCOMMIT: no transaction, so no transaction-local pin either
            assert pinned in (None, "")
            assert auto.execute(text("select now() = statement_timestamp()")).scalar()
        with engine.connect() as conn:  # back to the default afterwards
            assert conn.execute(setting).one() == (str(tenant.id), "read committed")
    with engine.connect() as conn:  # and no tenant outside the context
        assert conn.execute(setting).one()[0] in (None, "")


def test_a_failing_begin_message_raises_the_servers_error_and_the_connection_recovers(own_db):
    """send_begin reads only the last result: it must still raise the first error (the
    server skips the rest of the message), as psycopg's own class, and leave a connection
    that rolls back and pins again."""
    tenant = uuid.uuid4()
    with own_db.app_engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            send_begin(raw, b"BEGIN; SELECT 'not a uuid'::uuid; SET LOCAL app.current_user_id = ''")
        raw.rollback()
        send_begin(raw, begin_message((tenant, None)))
        row = raw.execute("select current_setting('app.current_tenant_id', true)").fetchone()
        raw.rollback()
    assert row == (str(tenant),)


def test_a_failing_begin_message_on_the_async_connection_raises_and_recovers_too(own_db):
    tenant = uuid.uuid4()

    async def go():
        async with own_db.loop_engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, psycopg.AsyncConnection)
            with pytest.raises(psycopg.errors.InvalidTextRepresentation):
                await send_begin_async(
                    raw, b"BEGIN; SELECT 'not a uuid'::uuid; SET LOCAL app.current_user_id = ''"
                )
            await raw.rollback()
            await send_begin_async(raw, begin_message((tenant, None)))
            cursor = await raw.execute("select current_setting('app.current_tenant_id', true)")
            row = await cursor.fetchone()
            await raw.rollback()
            return row

    assert asyncio.run(go()) == (str(tenant),)


def _backend_pid(database: Database, where: str = "thread") -> int:
    engine = database.app_engine if where == "thread" else database.loop_engine.sync_engine

    def pid() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("select pg_backend_pid()")).scalar_one())

    return run_where(where, pid)


def _terminate(db: Database, pid: int) -> None:
    admin = create_engine(db.urls.admin, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("select pg_terminate_backend(:p)"), {"p": pid}).scalar()
            for _ in range(100):
                gone = conn.execute(
                    text("select not exists (select 1 from pg_stat_activity where pid = :p)"),
                    {"p": pid},
                ).scalar()
                if gone:
                    return
                time.sleep(0.05)
        raise AssertionError(f"backend {pid} did not end")
    finally:
        admin.dispose()


@pytest.mark.parametrize("where", WHERE)
def test_a_connection_the_server_terminated_is_replaced_without_an_error(db, where):
    database = Database(db.urls, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(database, where)
        _terminate(db, first)
        second = _backend_pid(database, where)  # no error: the dead connection was discarded
        assert second != first
    finally:
        database.dispose()


def test_without_the_liveness_check_the_same_terminated_connection_fails(db):
    """The control: the check above is what saves the request (no pre-ping either)."""
    bare = create_engine(db.urls.app, pool_size=1, max_overflow=0)
    try:
        with bare.connect() as conn:
            pid = conn.execute(text("select pg_backend_pid()")).scalar_one()
        _terminate(db, pid)
        with pytest.raises(DBAPIError), bare.connect() as conn:
            conn.execute(text("select 1"))
    finally:
        bare.dispose()

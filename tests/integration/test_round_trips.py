"""Pinning the tenant costs no round trip, and a dead pooled connection is replaced.

Round trips are counted from libpq's protocol trace (``tests/roundtrips.py``): one per
``ReadyForQuery`` the server sends.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.pin import begin_message, pin_statement, send_begin
from tenantry.services.models import Service
from tests.factories import make_service, make_tenant
from tests.roundtrips import trace_engine


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


def test_a_single_statement_tenant_transaction_costs_no_more_round_trips_than_without_isolation(
    own_db, tenant_with_service
):
    tenant, service_id = tenant_with_service
    with (
        trace_engine(own_db.app_engine) as isolated,
        tenant_context(TenantContext(tenant_id=tenant.id)),
        own_db.session() as s,
    ):
        found = s.scalar(select(Service.name).where(Service.id == service_id))
    assert found is not None  # RLS let the row through: the transaction was pinned

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


def test_the_pin_is_transaction_local_and_honours_isolation_levels(own_db, tenant_with_service):
    tenant, _ = tenant_with_service
    setting = text(
        "select current_setting('app.current_tenant_id', true),"
        " current_setting('transaction_isolation')"
    )
    with tenant_context(TenantContext(tenant_id=tenant.id)):
        with own_db.app_engine.connect() as conn:
            serializable = conn.execution_options(isolation_level="SERIALIZABLE")
            assert serializable.execute(setting).one() == (str(tenant.id), "serializable")
            conn.rollback()
        with own_db.app_engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            pinned, _ = auto.execute(setting).one()
            # AUTOCOMMIT: no transaction, so no transaction-local pin either
            assert pinned in (None, "")
            assert auto.execute(text("select now() = statement_timestamp()")).scalar()
        with own_db.app_engine.connect() as conn:  # back to the default afterwards
            assert conn.execute(setting).one() == (str(tenant.id), "read committed")
    with own_db.app_engine.connect() as conn:  # and no tenant outside the context
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


def _backend_pid(database: Database) -> int:
    with database.app_engine.connect() as conn:
        return int(conn.execute(text("select pg_backend_pid()")).scalar_one())


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


def test_a_connection_the_server_terminated_is_replaced_without_an_error(db):
    database = Database(db.urls, pool_size=1, max_overflow=0)
    try:
        first = _backend_pid(database)
        _terminate(db, first)
        second = _backend_pid(database)  # no error: the dead connection was discarded
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

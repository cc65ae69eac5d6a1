"""The access check rides in the transaction's BEGIN message (``tenantry.db.dialect.Rider``):
the same answer as the statement on its own, one round trip fewer, and a connection
whose prepared statement went away (psycopg deallocates everything after a rollback) or
that has one we did not know of still serves the next request. Off behind a pooler.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text

from tenantry.auth import dependencies
from tenantry.auth.service import open_session
from tenantry.db.dialect import _PREPARED, driver_of
from tenantry.db.engine import Database, app_engine
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.guard import GuardedSession
from tests.factories import make_tenant
from tests.integration.test_round_trips import WHERE, run_where
from tests.roundtrips import trace_engine


@pytest.fixture(scope="module")
def one_conn_db(database_urls):
    """One pooled connection per engine: every transaction below reuses it."""
    database = Database(database_urls, pool_size=1, max_overflow=0)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def member(db):
    tenant = make_tenant(db, roles=("staff",))
    staff = tenant["staff"]
    session_id = open_session(db, staff.user_id, max_age_s=3600)
    return SimpleNamespace(user_id=staff.user_id, session_id=session_id, tenant_id=tenant.id)


def _engine(database: Database, where: str) -> Any:
    return database.app_engine if where == "thread" else database.loop_engine.sync_engine


def _check(database: Database, where: str, login: Any) -> Any:
    """``check_access`` as a request's unit runs it: the check begins the transaction."""

    def run() -> Any:
        ctx = TenantContext(tenant_id=login.tenant_id, user_id=login.user_id)
        with tenant_context(ctx), GuardedSession(bind=_engine(database, where)) as s:
            access = dependencies.check_access(s, login, login.tenant_id)
            s.commit()
            return access

    return run_where(where, run)


def _statement_alone(database: Database, login: Any) -> Any:
    """The same check as the plain statement (Core, off the loop), in a transaction of its own."""
    ctx = TenantContext(tenant_id=login.tenant_id, user_id=login.user_id)
    with tenant_context(ctx), database.session() as s:
        return dependencies._read_access(s.connection(), login, login.tenant_id)


@pytest.mark.parametrize("where", WHERE)
def test_the_check_rides_in_begin_answers_as_the_statement_and_saves_a_round_trip(
    one_conn_db, member, where
):
    expected = _statement_alone(one_conn_db, member)
    assert expected is not None and expected.role == "staff"
    _check(one_conn_db, where, member)  # the connection prepares the statement once
    with trace_engine(_engine(one_conn_db, where)) as trip:
        access = _check(one_conn_db, where, member)
    assert access == expected
    # BEGIN + pin + the check in one message, then COMMIT: the check has no round trip
    assert trip.count == 2, trip.queries()
    assert "; EXECUTE tenantry_access(" in trip.queries()[0]
    # a revoked session: the rider reads the row as gone, as the statement does
    gone = SimpleNamespace(**{**vars(member), "session_id": uuid.uuid4()})
    with trace_engine(_engine(one_conn_db, where)) as trip:
        assert _check(one_conn_db, where, gone) is None
    assert trip.count == 2, trip.queries()
    assert _statement_alone(one_conn_db, gone) is None


@pytest.mark.parametrize("where", WHERE)
def test_a_deallocated_or_unknown_prepared_statement_does_not_fail_the_next_request(
    one_conn_db, member, where
):
    expected = _statement_alone(one_conn_db, member)
    engine = _engine(one_conn_db, where)
    _check(one_conn_db, where, member)

    def raw_of() -> Any:
        with engine.connect() as conn:
            return driver_of(conn.connection)

    def deallocate_all() -> None:
        # what psycopg sends after a rollback once it has prepared statements of its own
        with engine.connect() as conn:
            conn.exec_driver_sql("DEALLOCATE ALL")
            conn.commit()

    run_where(where, deallocate_all)
    # the message fails (no such statement), is rolled back and sent again with its PREPARE
    with trace_engine(engine) as trip:
        assert _check(one_conn_db, where, member) == expected
    assert trip.count == 4, trip.queries()
    assert "PREPARE tenantry_access" in trip.queries()[2]
    with trace_engine(engine) as trip:
        assert _check(one_conn_db, where, member) == expected
    assert trip.count == 2, trip.queries()
    raw = run_where(where, raw_of)
    _PREPARED.pop(raw)  # prepared on the server, not known here: PREPARE fails, then not
    with trace_engine(engine) as trip:
        assert _check(one_conn_db, where, member) == expected
    assert trip.count == 4, trip.queries()
    assert b"tenantry_access" in _PREPARED[raw]


def test_behind_a_pooler_no_check_rides_in_begin(db, member):
    """``riders=False`` (a pooled URL): the check runs as a statement of its own, once."""
    engine = app_engine(db.urls.app, riders=False, pool_size=1, max_overflow=0)
    try:
        ctx = TenantContext(tenant_id=member.tenant_id, user_id=member.user_id)
        with trace_engine(engine) as trip, tenant_context(ctx), GuardedSession(bind=engine) as s:
            access = dependencies.check_access(s, member, member.tenant_id)
            s.commit()
        assert access is not None and access.role == "staff"
        assert trip.count == 3, trip.queries()  # BEGIN + pin, the check, COMMIT
        assert not any("EXECUTE" in q or "PREPARE" in q for q in trip.queries())
        with engine.connect() as conn:
            prepared = conn.execute(text("select count(*) from pg_prepared_statements"))
            assert prepared.scalar() == 0
    finally:
        engine.dispose()


def test_the_execute_is_composed_from_uuids_only(member):
    with pytest.raises(TypeError):
        dependencies._execute_access(
            f"{member.user_id}'); drop table users; --",  # type: ignore[arg-type]
            member.session_id,
            member.tenant_id,
        )
    sql = dependencies._execute_access(member.user_id, member.session_id, None)
    assert sql == (
        f"EXECUTE tenantry_access_alone('{member.user_id}', '{member.session_id}')".encode()
    )

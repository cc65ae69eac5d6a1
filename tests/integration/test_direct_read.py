"""The hot read on the driver (``tenantry.db.direct``, ``Repository.row_or_404``), with the
ORM guard alone between a tenant and the other tenant's row.

As in ``test_wall_guard``: the sessions are ``GuardedSession``s on the *migrator* engine
(BYPASSRLS: the database shows every tenant's rows) without a system scope, so another
tenant's row can only be kept out by the guard's criterion in the statement the driver
is sent. Every test that reads in a tenant also checks that the read went past
SQLAlchemy's ORM execution (no ``do_orm_execute``): the guard's scoping of the direct
path is what is tested, not the session's events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tenantry.bookings.models import Booking
from tenantry.bookings.repository import bookings
from tenantry.bookings.schemas import BookingOut
from tenantry.db.direct import first_row
from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.errors import NotFound
from tenantry.isolation.context import (
    TenantContext,
    TenantContextMissing,
    dangerously_enter_system_scope,
    tenant_context,
)
from tenantry.isolation.guard import GUARD_PARAMETER, UnscopableStatement
from tests.factories import make_booking, make_tenant
from tests.helpers import guard_only_session


@pytest.fixture(scope="module")
def world(db: Database) -> dict[str, tuple[uuid.UUID, uuid.UUID]]:
    """Tenants ``a`` and ``b``, each with one booking: name -> (tenant id, booking id)."""
    out = {}
    for name in ("a", "b"):
        tenant = make_tenant(db, roles=("owner", "client"))
        out[name] = (
            tenant.id,
            make_booking(db, tenant.id, tenant["client"].user_id, notes="direct"),
        )
    return out


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with guard_only_session(db) as s:
        yield s


class OrmExecutions:
    """Counts the statements that went through SQLAlchemy's ORM execution."""

    def __init__(self, session: Session) -> None:
        self.count = 0
        event.listen(session, "do_orm_execute", self._seen)

    def _seen(self, state: Any) -> None:
        self.count += 1


def in_tenant(tenant_id: uuid.UUID) -> tenant_context:  # type: ignore[valid-type]
    return tenant_context(TenantContext(tenant_id=tenant_id))


def test_the_fixture_really_bypasses_rls(session, world):
    """Sanity: in the system scope (the guard steps aside) this connection sees B's row."""
    _, b_booking = world["b"]
    with dangerously_enter_system_scope(reason="test: prove RLS is out of the way"):
        assert session.scalar(select(Booking.id).where(Booking.id == b_booking)) == b_booking


def test_the_direct_read_of_another_tenants_row_finds_nothing(session, world):
    a, _ = world["a"]
    _, b_booking = world["b"]
    orm = OrmExecutions(session)
    with in_tenant(a), pytest.raises(NotFound):
        bookings.row_or_404(session, b_booking)
    assert orm.count == 0, "the read must have gone past the ORM's execution"


def test_the_direct_read_returns_the_tenants_own_row_as_the_orm_reads_it(session, world):
    a, a_booking = world["a"]
    orm = OrmExecutions(session)
    with in_tenant(a):
        row = bookings.row_or_404(session, a_booking)
        assert orm.count == 0, "the read must have gone past the ORM's execution"
        loaded = bookings.get_or_404(session, a_booking)
    assert row["tenant_id"] == a and row["id"] == a_booking
    assert BookingOut.model_validate(row) == BookingOut.model_validate(loaded)


def test_the_direct_read_sends_the_tenant_of_the_context_at_each_read(session, world):
    """One statement object serves every tenant: the tenant is bound when it runs."""
    (a, a_booking), (b, b_booking) = world["a"], world["b"]
    with in_tenant(b):
        assert bookings.row_or_404(session, b_booking)["id"] == b_booking
        with pytest.raises(NotFound):
            bookings.row_or_404(session, a_booking)
    with in_tenant(a), pytest.raises(NotFound):
        bookings.row_or_404(session, b_booking)


def test_without_a_tenant_context_the_read_is_refused(session, world):
    _, a_booking = world["a"]
    with pytest.raises(TenantContextMissing):
        bookings.row_or_404(session, a_booking)


def test_a_value_for_the_guards_parameter_is_refused(session, world):
    a, _ = world["a"]
    _, b_booking = world["b"]
    stmt = select(Booking.id).where(Booking.id == b_booking)
    with in_tenant(a), pytest.raises(UnscopableStatement):
        first_row(session, stmt, {GUARD_PARAMETER: world["b"][0]})


def test_in_the_system_scope_the_read_goes_through_the_session(session, world):
    """The guard steps aside in the system scope (audited): so does the direct path, which
    then leaves the statement to the session."""
    _, b_booking = world["b"]
    orm = OrmExecutions(session)
    with dangerously_enter_system_scope(reason="test: the direct read in the system scope"):
        assert bookings.row_or_404(session, b_booking)["id"] == b_booking
    assert orm.count == 1


def test_a_session_without_the_guard_is_not_scoped_by_the_direct_path(db, world):
    """A session that is not a GuardedSession has no guard to apply: the read goes
    through the session as it is (RLS alone would have to hold, as in the attack suite's
    guard-removed run), rather than the direct path quietly adding a wall."""
    a, _ = world["a"]
    _, b_booking = world["b"]
    with sessionmaker(db.migrator_engine)() as plain, in_tenant(a):
        try:
            assert bookings.row_or_404(plain, b_booking)["id"] == b_booking
        finally:
            plain.rollback()


def test_an_entity_statement_is_refused(session, world):
    a, a_booking = world["a"]
    reason = "test: the session path"
    with in_tenant(a), pytest.raises(TypeError), dangerously_enter_system_scope(reason=reason):
        first_row(session, select(Booking).where(Booking.id == a_booking), {})


def test_on_the_loop_engine_the_read_is_pinned_and_scoped(db, world):
    """The app's own path: a loop session as the app role (RLS on), in a greenlet on the
    event loop, the transaction pinned by its BEGIN; the other tenant's row is absent."""
    import asyncio

    (a, a_booking), (_, b_booking) = world["a"], world["b"]

    def read() -> tuple[Any, bool]:
        session = db.loop_session()
        try:
            with in_tenant(a):
                own = bookings.row_or_404(session, a_booking)
                try:
                    bookings.row_or_404(session, b_booking)
                    other = True
                except NotFound:
                    other = False
            session.commit()
            return own, other
        finally:
            session.close()

    own, other = asyncio.run(run_on_loop(read))
    assert own["id"] == a_booking and own["tenant_id"] == a
    assert other is False


def test_with_a_cursor_listener_on_the_engine_the_read_goes_through_the_session(db, session, world):
    """Tracing (OpenTelemetry's SQLAlchemy instrumentation) listens to the engine's cursor
    events: the read then keeps its span, going through the session and the guard's events."""
    a, a_booking = world["a"]
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    orm = OrmExecutions(session)
    event.listen(db.migrator_engine, "before_cursor_execute", listener)
    try:
        with in_tenant(a):
            assert bookings.row_or_404(session, a_booking)["id"] == a_booking
    finally:
        event.remove(db.migrator_engine, "before_cursor_execute", listener)
    assert orm.count == 1
    assert any("FROM bookings" in sql and "tenantry_guard_tenant_id" in sql for sql in seen)

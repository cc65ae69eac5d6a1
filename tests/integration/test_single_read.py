"""A unit of work that promised a single read (``tenantry.db.unit.single_read``): its
transaction is READ ONLY and its read carries the COMMIT in the same message.

Run as requests run them: a ``RequestUnit`` on the app's loop engine (the app role,
under RLS), in a greenlet on the event loop, inside a tenant context. What must hold:

- the server refuses a write in such a unit, so committing with the read can never
  commit a write early (nothing is stored);
- a statement after the read runs in a new transaction that is pinned to the tenant and
  READ ONLY too: it sees the tenant's rows and no other tenant's;
- an endpoint that did not promise a single read keeps one transaction to the end.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from tenantry.bookings.models import Booking
from tenantry.bookings.repository import bookings
from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.db.unit import RequestUnit, single_read
from tenantry.errors import NotFound
from tenantry.isolation.context import TenantContext, tenant_context
from tests.factories import make_service, make_tenant
from tests.roundtrips import trace_engine


def _booking(db: Database, tenant_id: uuid.UUID, client_id: uuid.UUID) -> uuid.UUID:
    service_id = make_service(db, tenant_id)
    start = datetime.now(UTC) + timedelta(days=3)
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        row = Booking(client_id=client_id, service_id=service_id, starts_at=start,
                      ends_at=start + timedelta(hours=1), notes="single read")  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture(scope="module")
def world(db: Database) -> dict[str, Any]:
    """Tenants ``a`` and ``b``, each with one booking."""
    out: dict[str, Any] = {}
    for name in ("a", "b"):
        tenant = make_tenant(db, roles=("owner", "client"))
        out[name] = (tenant, _booking(db, tenant.id, tenant["client"].user_id))
    return out


def _serve(db: Database, tenant_id: uuid.UUID, endpoint: Callable[..., Any], one: bool) -> Any:
    """``endpoint(session=...)`` in a fresh request unit, as ``unit_endpoint`` runs a
    sync endpoint (marked ``single_read`` when ``one``)."""
    unit = RequestUnit(db.loop_session)

    def run() -> Any:
        with tenant_context(TenantContext(tenant_id=tenant_id)):
            return unit.run(endpoint, {"session": unit.session}, one)

    try:
        return asyncio.run(run_on_loop(run))
    finally:
        assert not unit.open, "the unit must have ended its session"


def _bookings_of(db: Database, tenant_id: uuid.UUID) -> int:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Booking)) or 0)


def test_the_read_carries_the_commit_in_a_read_only_transaction(db: Database, world):
    (a, a_booking) = world["a"]

    @single_read
    def endpoint(session: Any) -> Any:
        return bookings.row_or_404(session, a_booking)

    with trace_engine(db.loop_engine) as trip:
        row = _serve(db, a.id, endpoint, True)
    assert row["id"] == a_booking and row["tenant_id"] == a.id
    queries = _queries(trip)
    assert len(queries) == 2, queries
    begin, read = queries
    assert begin.startswith("BEGIN READ ONLY; SET LOCAL app.current_tenant_id"), begin
    assert read.startswith("SELECT ") and "FROM bookings" in read, read
    assert read.endswith("; COMMIT"), read
    assert trip.count == 2  # BEGIN and the pin; the read and the COMMIT


def _queries(trip: Any) -> list[str]:
    """The text of each simple-protocol Query the client sent (a statement may span
    several trace lines: SQLAlchemy's SQL has line breaks)."""
    return re.findall(r'^F\t\d+\tQuery\t "(.*?)"$', "\n".join(trip.lines()), re.M | re.S)


def test_a_write_in_a_single_read_unit_is_refused_by_the_server_and_nothing_is_stored(
    db: Database, world
):
    a, a_booking = world["a"]
    before = _bookings_of(db, a.id)

    @single_read
    def endpoint(session: Any) -> None:
        found = bookings.get_or_404(session, a_booking)
        session.add(
            Booking(client_id=found.client_id, service_id=found.service_id,
                    starts_at=found.starts_at + timedelta(days=1),
                    ends_at=found.ends_at + timedelta(days=1))
        )  # fmt: skip
        session.flush()

    with pytest.raises(DBAPIError, match="read-only transaction"):
        _serve(db, a.id, endpoint, True)
    assert _bookings_of(db, a.id) == before


def test_a_statement_after_the_read_runs_in_a_new_pinned_read_only_transaction(db: Database, world):
    (a, a_booking), (_, b_booking) = world["a"], world["b"]
    seen: dict[str, Any] = {}

    @single_read
    def endpoint(session: Any) -> None:
        seen["first"] = bookings.row_or_404(session, a_booking)["id"]
        seen["again"] = bookings.row_or_404(session, a_booking)["id"]
        with pytest.raises(NotFound):
            bookings.row_or_404(session, b_booking)
        seen["settings"] = session.execute(
            text(
                "select current_setting('app.current_tenant_id'), "
                "current_setting('transaction_read_only'), count(*) from bookings"
            )
        ).one()

    _serve(db, a.id, endpoint, True)
    assert seen["first"] == seen["again"] == a_booking
    tenant, read_only, visible = seen["settings"]
    assert tenant == str(a.id) and read_only == "on"
    assert visible == _bookings_of(db, a.id)


def test_an_endpoint_that_did_not_promise_one_read_keeps_one_transaction(db: Database, world):
    a, a_booking = world["a"]

    def endpoint(session: Any) -> Any:
        bookings.row_or_404(session, a_booking)
        return session.in_transaction(), session.execute(
            text("select current_setting('transaction_read_only')")
        ).scalar_one()

    with trace_engine(db.loop_engine) as trip:
        still_open, read_only = _serve(db, a.id, endpoint, False)
    assert still_open and read_only == "off"
    queries = _queries(trip)
    assert not any("; COMMIT" in query for query in queries), queries
    assert queries[-1] == "COMMIT", queries  # the unit's own, at the end


def test_single_read_marks_sync_endpoints_only():
    async def endpoint() -> None:
        return None

    with pytest.raises(TypeError, match="sync endpoint"):
        single_read(endpoint)

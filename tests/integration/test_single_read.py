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
import contextlib
import gc
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from tenantry.app import create_app
from tenantry.bookings.models import Booking
from tenantry.bookings.repository import bookings
from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.db.unit import RequestUnit, single_read
from tenantry.errors import NotFound
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.settings import Settings
from tests.factories import (
    REVOCATIONS,
    count_rows,
    make_booking,
    make_tenant,
    revoke,
    set_membership,
)
from tests.helpers import code, login
from tests.roundtrips import trace_engine

BOOKINGS = "/api/admin/bookings"


@pytest.fixture(scope="module")
def world(db: Database) -> dict[str, Any]:
    """Tenants ``a`` and ``b``, each with one booking."""
    out: dict[str, Any] = {}
    for name in ("a", "b"):
        tenant = make_tenant(db, roles=("owner", "client"))
        out[name] = (
            tenant,
            make_booking(db, tenant.id, tenant["client"].user_id, notes="single read"),
        )
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
    before = count_rows(db, a.id, Booking)

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
    assert count_rows(db, a.id, Booking) == before


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
    assert visible == count_rows(db, a.id, Booking)


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


# ---- served: the single read holds its transaction without a session's -------------


@pytest.fixture(scope="module")
def own_db(database_urls: Any) -> Iterator[Database]:
    """A Database of its own, so its pool and events see only this module's requests."""
    database = Database(database_urls, pool_size=2, max_overflow=0)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def app(settings: Settings, own_db: Database) -> Any:
    return create_app(settings, own_db)


def _checked_out(database: Database) -> int:
    pool: Any = database.loop_engine.sync_engine.pool
    return int(pool.checkedout())


@contextlib.contextmanager
def _no_dropped_connection() -> Iterator[None]:
    """A connection the unit forgot to give back is found by the garbage collector,
    which drops it with an SAWarning (and the pool then counts it back in)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield
        gc.collect()
    dropped = [w for w in seen if "non-checked-in connection" in str(w.message)]
    assert not dropped, dropped


def test_the_single_read_route_begins_no_sqlalchemy_transaction(
    app: Any, own_db: Database, world
) -> None:
    """The access check and the read on a connection held from the pool, without
    SQLAlchemy's Connection: no engine ``begin`` event for the read by id (a list,
    which is not a single read, shows the counter works)."""
    tenant, booking = world["a"]
    engine = own_db.loop_engine.sync_engine
    begins: list[object] = []

    def counted(conn: object) -> None:
        begins.append(conn)

    with TestClient(app) as client:
        login(client, tenant["owner"])
        assert client.get(f"{BOOKINGS}/{booking}").status_code == 200  # warm: deferred next
        event.listen(engine, "begin", counted)
        try:
            with _no_dropped_connection():
                one = client.get(f"{BOOKINGS}/{booking}")
            after_one = len(begins)
            listed = client.get(BOOKINGS)
        finally:
            event.remove(engine, "begin", counted)
    assert one.status_code == 200 and one.json()["id"] == str(booking), one.text
    assert after_one == 0, "the single read began a SQLAlchemy transaction"
    assert listed.status_code == 200 and len(begins) >= 1
    assert _checked_out(own_db) == 0


@pytest.mark.parametrize("revocation", REVOCATIONS)
def test_the_very_next_single_read_is_refused_and_its_connection_goes_back(
    app: Any, own_db: Database, db: Database, revocation: str
) -> None:
    fresh = make_tenant(db, roles=("owner", "staff", "client"))
    booking = make_booking(db, fresh.id, fresh["client"].user_id)
    member = fresh["staff"]
    path = f"{BOOKINGS}/{booking}"
    with TestClient(app) as client:
        login(client, member)
        assert client.get(path).status_code == 200  # verified once: the check is deferred
        expected = revoke(db, fresh, member, revocation)
        with _no_dropped_connection():
            r = client.get(path)
    assert r.status_code == 403 and code(r) == expected, r.text
    assert str(booking) not in r.text
    assert _checked_out(own_db) == 0, "the refused request kept its connection"


def test_a_changed_role_reruns_the_single_read_with_the_check_first(
    app: Any, own_db: Database, db: Database
) -> None:
    """The deferred check finds the guessed role wrong (StaleGuess): the held transaction
    is rolled back and given back, and the request runs again, checked first."""
    fresh = make_tenant(db, roles=("owner", "staff", "client"))
    booking = make_booking(db, fresh.id, fresh["client"].user_id)
    path = f"{BOOKINGS}/{booking}"
    with TestClient(app) as client:
        login(client, fresh["staff"])
        assert client.get(path).status_code == 200
        set_membership(db, fresh, fresh["staff"].user_id, role="client")
        with _no_dropped_connection():
            demoted = client.get(path)
        set_membership(db, fresh, fresh["staff"].user_id, role="staff")
        restored = client.get(path)
    assert demoted.status_code == 403 and code(demoted) == "role_required", demoted.text
    assert restored.status_code == 200 and restored.json()["id"] == str(booking)
    assert _checked_out(own_db) == 0


def test_another_tenants_id_on_the_single_read_is_a_404_and_nothing_is_kept(
    app: Any, own_db: Database, world
) -> None:
    (a, _), (_, b_booking) = world["a"], world["b"]
    with TestClient(app) as client:
        login(client, a["owner"])
        for _ in range(2):  # eager, then deferred (held)
            with _no_dropped_connection():
                r = client.get(f"{BOOKINGS}/{b_booking}")
            assert r.status_code == 404 and code(r) == "not_found", r.text
    assert _checked_out(own_db) == 0

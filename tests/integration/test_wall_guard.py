"""Wall 4 alone: the ORM guard scopes every ORM statement with RLS out of the way.

Every session here is a ``GuardedSession`` bound to the *migrator* engine (BYPASSRLS,
so the database shows every tenant's rows) WITHOUT entering the system scope: the guard
is on and is the only thing between a query and the other tenant's rows. Each test runs
in one transaction that is rolled back, so the module's seeded world stays intact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, exists, func, insert, literal, select, text, true, update
from sqlalchemy.orm import Session, aliased, joinedload, selectinload, with_parent
from structlog.testing import capture_logs

from tenantry.bookings.models import Booking
from tenantry.contact.models import ContactSubmission
from tenantry.db.engine import Database
from tenantry.invoices.models import Invoice, InvoiceLine
from tenantry.isolation.context import (
    TenantContext,
    TenantContextMissing,
    TenantMismatch,
    dangerously_enter_system_scope,
    tenant_context,
)
from tenantry.isolation.guard import (
    GUARD_PARAMETER,
    CrossTenantWrite,
    UnscopableStatement,
)
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tests.factories import TenantFixture, make_tenant
from tests.helpers import guard_only_session

LINES_PER_INVOICE = 2


@dataclass
class Seeded:
    tenant: TenantFixture
    services: list[uuid.UUID] = field(default_factory=list)
    request: uuid.UUID | None = None
    booking: uuid.UUID | None = None
    invoice: uuid.UUID | None = None
    contact: uuid.UUID | None = None

    @property
    def id(self) -> uuid.UUID:
        return self.tenant.id


def seed(db: Database, tenant: TenantFixture) -> Seeded:
    """Two services, a request, a booking, an invoice with lines, a contact message."""
    out = Seeded(tenant)
    client = tenant["client"].user_id
    with db.system_session(reason="seed guard test") as s:
        services = [
            Service(tenant_id=tenant.id, slug=f"svc-{n}", name=f"Service {n} of {tenant.slug}",
                    price_cents=1000 * n, duration_minutes=30)
            for n in (1, 2)
        ]  # fmt: skip
        s.add_all(services)
        s.flush()
        request = ServiceRequest(tenant_id=tenant.id, client_id=client,
                                 service_id=services[0].id, title="Leaky tap")  # fmt: skip
        s.add(request)
        s.flush()
        start = datetime.now(UTC) + timedelta(days=1)
        booking = Booking(tenant_id=tenant.id, client_id=client, service_id=services[0].id,
                          service_request_id=request.id, starts_at=start,
                          ends_at=start + timedelta(hours=1))  # fmt: skip
        invoice = Invoice(tenant_id=tenant.id, client_id=client, number="INV-0001")
        invoice.lines = [
            InvoiceLine(tenant_id=tenant.id, position=n, description=f"line {n}", quantity=1,
                        unit_price_cents=500, amount_cents=500)
            for n in range(LINES_PER_INVOICE)
        ]  # fmt: skip
        contact = ContactSubmission(tenant_id=tenant.id, name="Ann", email="ann@example.test",
                                    message="Hello")  # fmt: skip
        s.add_all([booking, invoice, contact])
        s.flush()
        out.services = [svc.id for svc in services]
        out.request, out.booking = request.id, booking.id
        out.invoice, out.contact = invoice.id, contact.id
    return out


@pytest.fixture(scope="module")
def world(db: Database) -> tuple[Seeded, Seeded]:
    return seed(db, make_tenant(db)), seed(db, make_tenant(db))


@pytest.fixture
def a(world: tuple[Seeded, Seeded]) -> Seeded:
    return world[0]


@pytest.fixture
def b(world: tuple[Seeded, Seeded]) -> Seeded:
    return world[1]


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with guard_only_session(db) as s:
        yield s


def as_tenant(t: Seeded) -> tenant_context:  # type: ignore[valid-type]
    return tenant_context(TenantContext(tenant_id=t.id, user_id=t.tenant["staff"].user_id))


def test_the_fixture_really_bypasses_rls(session, a, b):
    """Sanity: without the guard's help (system scope), this connection sees both tenants."""
    with dangerously_enter_system_scope(reason="test: prove RLS is out of the way"):
        tenants = set(session.scalars(select(Service.tenant_id)))
    assert {a.id, b.id} <= tenants


# ------------------------------------------------------------------------------ reads


def test_plain_select_sees_only_the_context_tenant(session, a, b):
    with as_tenant(a):
        rows = session.scalars(select(Service)).all()
    assert {r.tenant_id for r in rows} == {a.id}
    assert {r.id for r in rows} == set(a.services)


def test_select_of_columns_is_scoped(session, a):
    with as_tenant(a):
        ids = set(session.scalars(select(Service.id)))
    assert ids == set(a.services)


def test_where_naming_the_other_tenant_finds_nothing(session, a, b):
    with as_tenant(a):
        assert session.scalars(select(Service).where(Service.tenant_id == b.id)).all() == []
        assert session.scalars(select(Service).where(Service.id == b.services[0])).all() == []


def test_get_by_another_tenants_primary_key_finds_nothing(session, a, b):
    with as_tenant(a):
        assert session.get(Service, (b.id, b.services[0])) is None
        assert session.get(Service, (a.id, a.services[0])) is not None


def test_join_is_scoped_on_both_sides(session, a, b):
    # The ON clause deliberately ignores tenant_id: the guard must still pin both entities.
    stmt = select(Booking.id, Service.id).join(Service, Service.id == Booking.service_id)
    with as_tenant(a):
        rows = session.execute(stmt).all()
    assert rows == [(a.booking, a.services[0])]


def test_cross_join_of_aliases_is_scoped_on_every_alias(session, a):
    other = aliased(Service)
    stmt = select(Service.id, other.id).join(other, true())
    with as_tenant(a):
        pairs = session.execute(stmt).all()
    assert len(pairs) == len(a.services) ** 2
    assert {x for pair in pairs for x in pair} == set(a.services)


def test_subquery_in_where_is_scoped(session, a, b):
    # Without scoping of the subquery, tenant B's services would be found here.
    inner = select(Service.id).where(Service.slug == "svc-1")
    with as_tenant(a):
        got = set(session.scalars(select(Booking.service_id).where(Booking.service_id.in_(inner))))
        all_svc = set(session.scalars(select(inner.subquery().c.id)))
    assert got == {a.services[0]}
    assert all_svc == {a.services[0]}


def test_exists_subquery_is_scoped(session, a, b):
    stmt = select(exists().where(Service.id == b.services[0]))
    with as_tenant(a):
        assert session.scalar(stmt) is False


def test_count_select_from_model_is_scoped(session, a):
    with as_tenant(a):
        assert session.scalar(select(func.count()).select_from(Service)) == len(a.services)
        assert session.scalar(select(func.count(Service.id))) == len(a.services)
        assert session.scalar(select(func.count()).select_from(InvoiceLine)) == LINES_PER_INVOICE


def test_select_of_a_literal_from_a_model_is_scoped(session, a):
    with as_tenant(a):
        assert len(session.scalars(select(literal(1)).select_from(Service)).all()) == len(
            a.services
        )


def test_order_by_and_limit_stay_scoped(session, a):
    with as_tenant(a):
        rows = session.scalars(select(Service).order_by(Service.price_cents.desc()).limit(5)).all()
    assert [r.id for r in rows] == list(reversed(a.services))


def test_relationship_loaders_are_scoped(session, a):
    with as_tenant(a):
        invoices = session.scalars(select(Invoice).options(selectinload(Invoice.lines))).all()
        bookings = session.scalars(select(Booking).options(joinedload(Booking.service))).all()
    assert [i.id for i in invoices] == [a.invoice]
    assert {ln.tenant_id for ln in invoices[0].lines} == {a.id}
    assert len(invoices[0].lines) == LINES_PER_INVOICE
    assert [(bk.id, bk.service.id) for bk in bookings] == [(a.booking, a.services[0])]


def test_relationship_load_for_another_tenants_parent_finds_nothing(session, a, b):
    with dangerously_enter_system_scope(reason="test: hold a foreign object"):
        invoice_b = session.get(Invoice, (b.id, b.invoice))
    assert invoice_b is not None
    with as_tenant(a):
        lines = session.scalars(select(InvoiceLine).where(with_parent(invoice_b, Invoice.lines)))
        assert lines.all() == []


def test_refresh_of_another_tenants_object_finds_nothing(session, a, b):
    with dangerously_enter_system_scope(reason="test: hold a foreign object"):
        service_b = session.get(Service, (b.id, b.services[0]))
    with as_tenant(a), pytest.raises(TenantMismatch):
        session.refresh(service_b)
    with as_tenant(a), pytest.raises(TenantMismatch):
        session.expire(service_b)
        _ = service_b.name
    with as_tenant(b):
        session.refresh(service_b)  # its own tenant may


def test_alternating_tenants_never_reuse_a_cached_tenant(session, a, b):
    """The criteria lambda is cached by SQLAlchemy; its tenant must be re-bound each time."""
    stmt = select(Service.tenant_id).distinct()
    for t in (a, b, a, b, a):
        with as_tenant(t):
            assert list(session.scalars(stmt)) == [t.id]


def test_the_tenant_is_bound_when_the_statement_runs_not_when_it_is_built(session, a, b):
    """One statement object executed in two contexts reads each context's tenant."""
    stmt = select(Service.tenant_id).distinct()
    with as_tenant(a):
        first = list(session.scalars(stmt))
    with as_tenant(b):
        second = list(session.scalars(stmt))
    assert (first, second) == ([a.id], [b.id])


def test_a_parameter_named_like_the_guards_cannot_replace_the_tenant(session, a, b):
    """The guard's filter takes its value from the context; a caller's parameter of the
    same name would take precedence in SQLAlchemy, so the guard refuses the statement."""
    with as_tenant(a), pytest.raises(UnscopableStatement):
        session.execute(select(Service.tenant_id), {GUARD_PARAMETER: b.id})
    rows = [{"id": b.services[0], "name": "hijacked", GUARD_PARAMETER: b.id}]
    with as_tenant(a), pytest.raises(UnscopableStatement):
        session.execute(update(Service), rows)


# -------------------------------------------------------------- bulk UPDATE / DELETE


def test_orm_update_statement_touches_only_the_context_tenant(session, a, b):
    with as_tenant(a):
        result = session.execute(update(Service).values(description="touched"))
    assert result.rowcount == len(a.services)
    with dangerously_enter_system_scope(reason="test: check the other tenant"):
        untouched = session.scalars(select(Service.description).where(Service.tenant_id == b.id))
        assert "touched" not in set(untouched)


def test_orm_update_naming_another_tenants_row_updates_nothing(session, a, b):
    stmt = update(Service).where(Service.id == b.services[0]).values(name="hijacked")
    with as_tenant(a):
        assert session.execute(stmt).rowcount == 0


def test_orm_delete_statement_touches_only_the_context_tenant(session, a, b):
    with as_tenant(a):
        assert session.execute(delete(ContactSubmission)).rowcount == 1
        assert (
            session.execute(
                delete(ContactSubmission).where(ContactSubmission.id == b.contact)
            ).rowcount
            == 0
        )
    with dangerously_enter_system_scope(reason="test: check the other tenant"):
        assert session.get(ContactSubmission, (b.id, b.contact)) is not None


def test_orm_update_statement_cannot_move_rows_to_another_tenant(session, a, b):
    with as_tenant(a), pytest.raises(CrossTenantWrite):
        session.execute(update(ContactSubmission).values(tenant_id=b.id))


def test_orm_insert_statement_for_another_tenant_is_refused(session, a, b):
    row = {"tenant_id": b.id, "name": "x", "email": "x@example.test", "message": "m"}
    with as_tenant(a):
        with pytest.raises(CrossTenantWrite):
            session.execute(insert(ContactSubmission).values(**row))
        with pytest.raises(CrossTenantWrite):
            session.execute(insert(ContactSubmission), [row])


def test_orm_insert_statement_without_tenant_gets_the_context_tenant(session, a):
    row = {"name": "x", "email": "x@example.test", "message": "bulk"}
    with as_tenant(a):
        session.execute(insert(ContactSubmission), [row, dict(row)])
        session.execute(insert(ContactSubmission).values(**row))
        n = session.scalar(
            select(func.count()).select_from(ContactSubmission).where(
                ContactSubmission.message == "bulk")
        )  # fmt: skip
    assert n == 3


def test_orm_bulk_update_by_primary_key_is_pinned_to_the_context_tenant(session, a, b):
    with as_tenant(a):
        session.execute(update(Service), [{"tenant_id": a.id, "id": a.services[0], "name": "bulk"}])
        assert session.get(Service, (a.id, a.services[0])).name == "bulk"
        with pytest.raises(CrossTenantWrite):
            session.execute(
                update(Service), [{"tenant_id": b.id, "id": b.services[0], "name": "hijacked"}]
            )


def test_statements_the_guard_cannot_scope_are_refused(session, a):
    raw = select(Service).from_statement(text("select * from services"))
    copy = insert(ContactSubmission).from_select(
        ["tenant_id", "name", "email", "message"],
        select(ContactSubmission.tenant_id, ContactSubmission.name, ContactSubmission.email,
               ContactSubmission.message),
    )  # fmt: skip
    with as_tenant(a):
        with pytest.raises(UnscopableStatement):
            session.execute(raw)
        with pytest.raises(UnscopableStatement):
            session.execute(copy)


def test_bare_core_tables_are_left_to_rls(session, a, b):
    """Known, documented bypass: Core on ``Model.__table__`` carries no ORM entity, so
    the guard neither scopes nor refuses it — only RLS (wall 5) stands there. It is how
    ``auth.service.memberships_of`` reads a user's memberships across tenants."""
    table = Service.__table__
    with as_tenant(a):
        tenants = set(session.scalars(select(table.c.tenant_id)))
    assert {a.id, b.id} <= tenants


# ------------------------------------------------------------------- unit-of-work writes


def test_new_object_gets_the_context_tenant(session, a):
    with as_tenant(a):
        svc = Service(slug="fresh", name="Fresh", price_cents=1, duration_minutes=5)
        session.add(svc)
        session.flush()
    assert svc.tenant_id == a.id


def test_insert_carrying_another_tenant_is_refused(session, a, b):
    with as_tenant(a):
        session.add(Service(tenant_id=b.id, slug="planted", name="x", price_cents=1,
                            duration_minutes=5))  # fmt: skip
        with pytest.raises(CrossTenantWrite):
            session.flush()


def test_update_of_another_tenants_object_is_refused(session, a, b):
    with dangerously_enter_system_scope(reason="test: hold a foreign object"):
        service_b = session.get(Service, (b.id, b.services[0]))
    assert service_b is not None
    with as_tenant(a):
        service_b.name = "hijacked"
        with pytest.raises(CrossTenantWrite):
            session.flush()


def test_delete_of_another_tenants_object_is_refused(session, a, b):
    with dangerously_enter_system_scope(reason="test: hold a foreign object"):
        contact_b = session.get(ContactSubmission, (b.id, b.contact))
    with as_tenant(a):
        session.delete(contact_b)
        with pytest.raises(CrossTenantWrite):
            session.flush()


def test_changing_tenant_id_is_refused(session, a, b):
    with as_tenant(a):
        contact_a = session.get(ContactSubmission, (a.id, a.contact))
        assert contact_a is not None
        contact_a.tenant_id = b.id
        with pytest.raises(CrossTenantWrite, match="cannot change"):
            session.flush()


def test_own_tenant_writes_pass(session, a):
    with as_tenant(a):
        svc = session.get(Service, (a.id, a.services[1]))
        assert svc is not None
        svc.name = "Renamed"
        session.delete(session.get(ContactSubmission, (a.id, a.contact)))
        session.flush()


# -------------------------------------------------------------------------- no context


@pytest.mark.parametrize(
    "stmt",
    [
        select(Service),
        select(Service.id),
        select(func.count()).select_from(Service),
        select(literal(1)).select_from(InvoiceLine),
        select(Booking.id).join(Service, Service.id == Booking.service_id),
        select(exists().where(Service.slug == "svc-1")),
        select(select(Service.id).subquery().c.id),
        update(Service).values(name="x"),
        delete(ContactSubmission),
        insert(ContactSubmission).values(name="x", email="x@example.test", message="m"),
    ],
    ids=[
        "select",
        "columns",
        "count",
        "literal",
        "join",
        "exists",
        "subquery",
        "update",
        "delete",
        "insert",
    ],
)
def test_any_statement_on_a_tenant_model_without_context_raises(session, stmt):
    with pytest.raises(TenantContextMissing):
        session.execute(stmt)


def test_flush_without_context_raises(session):
    session.add(Service(slug="orphan", name="x", price_cents=1, duration_minutes=5))
    with pytest.raises(TenantContextMissing):
        session.flush()


def test_statements_on_global_models_need_no_context(session):
    from tenantry.db.tenant import Tenant

    assert session.scalar(select(func.count()).select_from(Tenant)) >= 2


# ---------------------------------------------------------------------------- log mode


def test_log_mode_lets_through_but_reports(session, a, b):
    session.guard_mode = "log"  # type: ignore[attr-defined]
    with capture_logs() as logs:
        tenants = set(session.scalars(select(Service.tenant_id)))  # no context at all
        with as_tenant(a):
            session.add(ContactSubmission(tenant_id=b.id, name="x", email="x@example.test",
                                          message="logged"))  # fmt: skip
            session.flush()
    assert {a.id, b.id} <= tenants  # let through: RLS is off here, so every tenant shows
    violations = [e for e in logs if e["event"] == "guard_violation"]
    assert {v["code"] for v in violations} == {"tenant_context_missing", "not_found"}
    assert all(v["mode"] == "log" for v in violations)

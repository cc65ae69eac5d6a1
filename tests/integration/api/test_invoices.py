"""Invoices over HTTP: admin (/api/admin/invoices) and portal (/api/portal/invoices)."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tenantry.bookings.models import Booking
from tenantry.invoices import service as invoice_service
from tenantry.invoices.models import Invoice, InvoiceLine
from tenantry.invoices.schemas import InvoiceCreate, InvoiceLineIn
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.services.models import Service
from tests.factories import add_client, make_tenant
from tests.helpers import code, login

ADMIN = "/api/admin/invoices"
PORTAL = "/api/portal/invoices"
LINES = [
    {"description": "Boiler service", "quantity": 2, "unit_price_cents": 4500},
    {"description": "Parts", "quantity": 3, "unit_price_cents": 1250},
    {"description": "Loyalty discount", "quantity": 1, "unit_price_cents": -500},
]


def body_for(client_id, **extra):
    return {"client_id": str(client_id), "lines": LINES, **extra}


def invoice_rows(db, tenant_id) -> list[Invoice]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return list(s.scalars(select(Invoice).order_by(Invoice.number)).all())


def line_count(db, tenant_id) -> int:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return s.scalar(select(func.count()).select_from(InvoiceLine)) or 0


def make_booking(db, tenant_id, client_id) -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        svc = Service(
            slug="svc-" + uuid.uuid4().hex[:6], name="Svc", price_cents=1000, duration_minutes=60
        )
        s.add(svc)
        s.flush()
        start = datetime.now(UTC) + timedelta(days=3)
        booking = Booking(
            client_id=client_id,
            service_id=svc.id,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        )
        s.add(booking)
        s.flush()
        return booking.id


@pytest.fixture(scope="module")
def ta(db):
    return make_tenant(db)


@pytest.fixture(scope="module")
def tb(db):
    return make_tenant(db, roles=("admin", "client"))


@pytest.fixture(scope="module")
def other_client(db, ta):
    """A second client of tenant A."""
    return add_client(db, ta)


def _signed_in(app, member):
    c = TestClient(app)
    c.__enter__()
    login(c, member)
    return c


@pytest.fixture(scope="module")
def as_a(app, ta):
    clients = {role: _signed_in(app, ta[role]) for role in ("owner", "admin", "staff", "client")}
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def admin_a(as_a):
    return as_a["admin"]


@pytest.fixture(scope="module")
def admin_b(app, tb):
    c = _signed_in(app, tb["admin"])
    yield c
    c.__exit__(None, None, None)


def ids(db, tenant_id) -> set[uuid.UUID]:
    return {i.id for i in invoice_rows(db, tenant_id)}


def create(c, client_id, **extra) -> dict:
    r = c.post(ADMIN, json=body_for(client_id, **extra))
    assert r.status_code == 201, r.text
    return r.json()


# --- create -----------------------------------------------------------------------------


def test_admin_creates_a_draft_invoice_with_amounts_computed_by_the_server(admin_a, ta):
    inv = create(admin_a, ta["client"].user_id)
    assert inv["status"] == "draft" and re.fullmatch(r"INV-\d{6}", inv["number"])
    assert [line["amount_cents"] for line in inv["lines"]] == [9000, 3750, -500]
    assert inv["total_cents"] == 12250
    assert inv["currency"] == "USD" and inv["issued_at"] is None


def test_invoice_numbers_follow_each_other_and_restart_in_each_tenant(db):
    one, two = make_tenant(db, roles=("client",)), make_tenant(db, roles=("client",))
    data = {
        t.id: InvoiceCreate(
            client_id=t["client"].user_id,
            lines=[InvoiceLineIn(description="x", unit_price_cents=100)],
        )
        for t in (one, two)
    }

    def number(tenant) -> str:
        with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
            return invoice_service.create_invoice(s, data=data[tenant.id]).number

    assert [number(one) for _ in range(3)] == ["INV-000001", "INV-000002", "INV-000003"]
    assert number(two) == "INV-000001"


def test_concurrent_creations_in_one_tenant_get_distinct_numbers(db):
    tenant = make_tenant(db, roles=("client",))
    data = InvoiceCreate(
        client_id=tenant["client"].user_id,
        lines=[InvoiceLineIn(description="x", unit_price_cents=100)],
    )
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
                barrier.wait()
                invoice_service.create_invoice(s, data=data)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = [i.number for i in invoice_rows(db, tenant.id)]
    assert numbers == [f"INV-{n:06d}" for n in range(1, 7)]


def test_a_total_sent_by_the_caller_is_refused_and_nothing_is_stored(db, admin_a, ta):
    before = ids(db, ta.id)
    r = admin_a.post(ADMIN, json=body_for(ta["client"].user_id, total_cents=1))
    assert r.status_code == 422 and code(r) == "validation_error"
    assert ids(db, ta.id) == before


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [{"description": "x", "quantity": 0, "unit_price_cents": 100}],
        [{"description": "", "quantity": 1, "unit_price_cents": 100}],
        [{"description": "x", "quantity": 1, "unit_price_cents": 100, "amount_cents": 5}],
    ],
)
def test_invalid_lines_are_422_and_nothing_is_stored(db, admin_a, ta, lines):
    before, before_lines = ids(db, ta.id), line_count(db, ta.id)
    r = admin_a.post(ADMIN, json={"client_id": str(ta["client"].user_id), "lines": lines})
    assert r.status_code == 422
    assert ids(db, ta.id) == before and line_count(db, ta.id) == before_lines


def test_a_negative_total_is_422(db, admin_a, ta):
    before = ids(db, ta.id)
    lines = [{"description": "credit", "quantity": 1, "unit_price_cents": -100}]
    r = admin_a.post(ADMIN, json={"client_id": str(ta["client"].user_id), "lines": lines})
    assert r.status_code == 422 and code(r) == "invoice_total_negative"
    assert ids(db, ta.id) == before


def test_a_client_of_another_tenant_is_refused_and_nothing_is_stored(db, admin_a, ta, tb):
    before_a, before_b = ids(db, ta.id), ids(db, tb.id)
    r = admin_a.post(ADMIN, json=body_for(tb["client"].user_id))
    assert r.status_code == 422 and code(r) == "unknown_client"
    assert str(tb.id) not in r.text
    assert ids(db, ta.id) == before_a and ids(db, tb.id) == before_b


def test_a_staff_member_cannot_be_invoiced_as_a_client(admin_a, ta):
    r = admin_a.post(ADMIN, json=body_for(ta["staff"].user_id))
    assert r.status_code == 422 and code(r) == "unknown_client"


def test_an_invoice_may_point_at_the_same_clients_booking(db, admin_a, ta):
    booking_id = make_booking(db, ta.id, ta["client"].user_id)
    inv = create(admin_a, ta["client"].user_id, booking_id=str(booking_id))
    assert inv["booking_id"] == str(booking_id)


def test_a_booking_of_another_tenant_is_refused(db, admin_a, ta, tb):
    booking_b = make_booking(db, tb.id, tb["client"].user_id)
    before_a, before_b = ids(db, ta.id), ids(db, tb.id)
    r = admin_a.post(ADMIN, json=body_for(ta["client"].user_id, booking_id=str(booking_b)))
    assert r.status_code == 422 and code(r) == "unknown_booking"
    assert ids(db, ta.id) == before_a and ids(db, tb.id) == before_b


def test_a_booking_of_another_client_is_refused(db, admin_a, ta, other_client):
    booking = make_booking(db, ta.id, other_client.user_id)
    r = admin_a.post(ADMIN, json=body_for(ta["client"].user_id, booking_id=str(booking)))
    assert r.status_code == 422 and code(r) == "booking_client_mismatch"


@pytest.mark.parametrize("role", ["staff", "client"])
def test_staff_and_clients_cannot_create_invoices(db, as_a, ta, role):
    before = ids(db, ta.id)
    r = as_a[role].post(ADMIN, json=body_for(ta["client"].user_id))
    assert r.status_code == 403 and code(r) == "role_required"
    assert ids(db, ta.id) == before


# --- list and get -----------------------------------------------------------------------


def test_admin_lists_invoices_with_filters_and_pagination(app, db):
    tenant = make_tenant(db, roles=("admin", "client"))
    other = add_client(db, tenant)
    with TestClient(app) as admin:
        login(admin, tenant["admin"])
        first = create(admin, tenant["client"].user_id)
        create(admin, tenant["client"].user_id)
        create(admin, other.user_id)
        admin.post(f"{ADMIN}/{first['id']}/send")
        page = admin.get(ADMIN, params={"limit": 2}).json()
        assert page["total"] == 3 and len(page["items"]) == 2 and page["limit"] == 2
        assert len(admin.get(ADMIN, params={"limit": 2, "offset": 2}).json()["items"]) == 1
        sent = admin.get(ADMIN, params={"status": "sent"}).json()
        assert [i["id"] for i in sent["items"]] == [first["id"]]
        theirs = admin.get(ADMIN, params={"client_id": str(other.user_id)}).json()
        assert theirs["total"] == 1 and theirs["items"][0]["client_id"] == str(other.user_id)


def test_staff_may_read_invoices(as_a, ta):
    inv = create(as_a["admin"], ta["client"].user_id)
    assert inv["id"] in [i["id"] for i in as_a["staff"].get(ADMIN).json()["items"]]
    assert as_a["staff"].get(f"{ADMIN}/{inv['id']}").status_code == 200


def test_a_client_cannot_use_the_admin_list_nor_get(as_a, ta):
    inv = create(as_a["admin"], ta["client"].user_id)
    r = as_a["client"].get(ADMIN)
    assert r.status_code == 403 and code(r) == "role_required"
    assert as_a["client"].get(f"{ADMIN}/{inv['id']}").status_code == 403


def test_list_filters_reject_bad_values(admin_a):
    assert admin_a.get(ADMIN, params={"status": "lost"}).status_code == 422
    assert admin_a.get(ADMIN, params={"client_id": "nope"}).status_code == 422
    assert admin_a.get(ADMIN, params={"limit": 0}).status_code == 422


def test_filtering_by_a_client_of_another_tenant_shows_nothing(admin_a, admin_b, tb):
    create(admin_b, tb["client"].user_id)
    page = admin_a.get(ADMIN, params={"client_id": str(tb["client"].user_id)}).json()
    assert page == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_admin_gets_an_invoice_with_its_lines(admin_a, ta):
    inv = create(admin_a, ta["client"].user_id)
    got = admin_a.get(f"{ADMIN}/{inv['id']}").json()
    assert got == inv
    assert [line["position"] for line in got["lines"]] == [0, 1, 2]


def test_admin_of_a_cannot_read_an_invoice_of_b(admin_a, admin_b, tb):
    inv_b = create(admin_b, tb["client"].user_id)
    r = admin_a.get(f"{ADMIN}/{inv_b['id']}")
    assert r.status_code == 404 and code(r) == "not_found"
    assert admin_a.get(f"{ADMIN}/{uuid.uuid4()}").status_code == 404
    assert admin_a.get(f"{ADMIN}/not-a-uuid").status_code == 422


# --- transitions ------------------------------------------------------------------------


def test_send_then_mark_paid_sets_the_dates(admin_a, ta):
    inv = create(admin_a, ta["client"].user_id)
    sent = admin_a.post(f"{ADMIN}/{inv['id']}/send").json()
    assert sent["status"] == "sent" and sent["issued_at"]
    paid = admin_a.post(f"{ADMIN}/{inv['id']}/mark-paid").json()
    assert paid["status"] == "paid" and paid["paid_at"]


def test_a_draft_cannot_be_marked_paid_nor_sent_twice(admin_a, ta):
    inv = create(admin_a, ta["client"].user_id)
    r = admin_a.post(f"{ADMIN}/{inv['id']}/mark-paid")
    assert r.status_code == 409 and code(r) == "invalid_transition"
    admin_a.post(f"{ADMIN}/{inv['id']}/send")
    r = admin_a.post(f"{ADMIN}/{inv['id']}/send")
    assert r.status_code == 409 and code(r) == "invalid_transition"


def test_drafts_and_sent_invoices_can_be_voided_but_paid_ones_cannot(admin_a, ta):
    client_id = ta["client"].user_id
    draft, sent, paid = (create(admin_a, client_id) for _ in range(3))
    admin_a.post(f"{ADMIN}/{sent['id']}/send")
    admin_a.post(f"{ADMIN}/{paid['id']}/send")
    admin_a.post(f"{ADMIN}/{paid['id']}/mark-paid")
    assert admin_a.post(f"{ADMIN}/{draft['id']}/void").json()["status"] == "void"
    assert admin_a.post(f"{ADMIN}/{sent['id']}/void").json()["status"] == "void"
    r = admin_a.post(f"{ADMIN}/{paid['id']}/void")
    assert r.status_code == 409 and code(r) == "invalid_transition"
    r = admin_a.post(f"{ADMIN}/{draft['id']}/void")
    assert r.status_code == 409 and code(r) == "invalid_transition"
    assert admin_a.get(f"{ADMIN}/{paid['id']}").json()["status"] == "paid"


@pytest.mark.parametrize("action", ["send", "mark-paid", "void"])
def test_admin_of_a_cannot_move_an_invoice_of_b(db, admin_a, admin_b, tb, action):
    inv_b = create(admin_b, tb["client"].user_id)
    if action == "mark-paid":
        admin_b.post(f"{ADMIN}/{inv_b['id']}/send")
    before = {(i.id, i.status, i.updated_at) for i in invoice_rows(db, tb.id)}
    r = admin_a.post(f"{ADMIN}/{inv_b['id']}/{action}")
    assert r.status_code == 404 and code(r) == "not_found"
    assert {(i.id, i.status, i.updated_at) for i in invoice_rows(db, tb.id)} == before


@pytest.mark.parametrize("action", ["send", "mark-paid", "void"])
@pytest.mark.parametrize("role", ["staff", "client"])
def test_staff_and_clients_cannot_move_invoices(db, as_a, ta, action, role):
    inv = create(as_a["admin"], ta["client"].user_id)
    r = as_a[role].post(f"{ADMIN}/{inv['id']}/{action}")
    assert r.status_code == 403 and code(r) == "role_required"
    statuses = {i.id: i.status for i in invoice_rows(db, ta.id)}
    assert statuses[uuid.UUID(inv["id"])] == "draft"


def test_transitions_on_unknown_or_malformed_ids(admin_a):
    assert admin_a.post(f"{ADMIN}/{uuid.uuid4()}/send").status_code == 404
    assert admin_a.post(f"{ADMIN}/bad/send").status_code == 422


# --- portal -----------------------------------------------------------------------------


def test_a_client_sees_only_their_own_invoices_and_never_drafts(app, db):
    tenant = make_tenant(db, roles=("admin", "client"))
    other = add_client(db, tenant)
    with TestClient(app) as admin, TestClient(app) as client:
        login(admin, tenant["admin"])
        draft = create(admin, tenant["client"].user_id)
        sent = create(admin, tenant["client"].user_id)
        admin.post(f"{ADMIN}/{sent['id']}/send")
        theirs = create(admin, other.user_id)
        admin.post(f"{ADMIN}/{theirs['id']}/send")
        login(client, tenant["client"])
        page = client.get(PORTAL).json()
        assert [i["id"] for i in page["items"]] == [sent["id"]] and page["total"] == 1
        got = client.get(f"{PORTAL}/{sent['id']}").json()
        assert got["status"] == "sent" and len(got["lines"]) == 3
        assert client.get(f"{PORTAL}/{draft['id']}").status_code == 404
        r = client.get(f"{PORTAL}/{theirs['id']}")
        assert r.status_code == 404 and code(r) == "not_found"
        assert client.get(PORTAL, params={"status": "draft"}).json()["total"] == 0


def test_a_client_of_a_cannot_read_an_invoice_of_b(as_a, admin_b, tb):
    inv_b = create(admin_b, tb["client"].user_id)
    admin_b.post(f"{ADMIN}/{inv_b['id']}/send")
    assert as_a["client"].get(f"{PORTAL}/{inv_b['id']}").status_code == 404
    assert inv_b["id"] not in [i["id"] for i in as_a["client"].get(PORTAL).json()["items"]]


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_members_who_are_not_clients_cannot_use_the_portal(as_a, role):
    r = as_a[role].get(PORTAL)
    assert r.status_code == 403 and code(r) == "role_required"
    assert as_a[role].get(f"{PORTAL}/{uuid.uuid4()}").status_code == 403


def test_portal_rejects_malformed_input(as_a):
    assert as_a["client"].get(f"{PORTAL}/nope").status_code == 422
    assert as_a["client"].get(PORTAL, params={"status": "bogus"}).status_code == 422


# --- demo -------------------------------------------------------------------------------


def test_demo_invoices_cover_every_status_and_loading_twice_adds_nothing(db):
    from tenantry.invoices.demo import fill
    from tenantry.kit.demo import DemoTenant
    from tenantry.tenants.lifecycle import TenantRef

    tenant = make_tenant(db, roles=("owner", "client"))
    other = add_client(db, tenant)
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, tenant.slug))
    demo.users = {role: m.user_id for role, m in tenant.members.items()}
    fill(db, demo)
    first = invoice_rows(db, tenant.id)
    fill(db, demo)
    assert [i.id for i in invoice_rows(db, tenant.id)] == [i.id for i in first]
    assert len(first) == 8
    assert {i.client_id for i in first} == {tenant["client"].user_id, other.user_id}
    assert {i.status for i in first} == {"draft", "sent", "paid", "void"}
    assert all(i.paid_at for i in first if i.status == "paid")
    assert all(i.total_cents > 0 for i in first)

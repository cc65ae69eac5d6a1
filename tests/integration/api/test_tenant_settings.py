"""Tenant settings: the three singletons (defaults, upsert, per-tenant cache)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds
from tests.factories import make_tenant
from tests.helpers import code
from tests.integration.api._logged_in import SignedIn

BOOKING = "/api/admin/booking-settings"
COMMUNICATION = "/api/admin/communication-settings"
THRESHOLDS = "/api/admin/thresholds"
ALL = ((BOOKING, BookingSettings), (COMMUNICATION, CommunicationSettings),
       (THRESHOLDS, Thresholds))  # fmt: skip


@pytest.fixture
def pair(db):
    """Two fresh tenants (settings are singletons: every test needs its own)."""
    return make_tenant(db, roles=("owner",)), make_tenant(db, roles=("owner",))


@pytest.fixture(scope="module")
def untouched(db):
    """A tenant whose settings refused requests try, and fail, to change."""
    return make_tenant(db, roles=("owner", "staff", "client"))


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


def rows(db, tenant, model) -> list[dict]:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return [
            {c.key: getattr(r, c.key) for c in model.__table__.columns}
            for r in s.scalars(select(model)).all()
        ]


def test_defaults_are_returned_before_anything_is_saved_and_nothing_is_stored(as_, db, pair):
    a, _ = pair
    owner = as_(a["owner"])
    booking = owner.get(BOOKING).json()
    assert booking["timezone"] == "UTC" and booking["slot_minutes"] == 30
    assert booking["business_hours"] == {} and booking["updated_at"] is None
    assert owner.get(COMMUNICATION).json()["reminder_lead_minutes"] == 1440
    assert owner.get(THRESHOLDS).json() == {
        "expense_approval_cents": 0,
        "invoice_overdue_days": 30,
        "request_response_hours": 24,
        "updated_at": None,
    }
    for _, model in ALL:
        assert rows(db, a, model) == []


def test_put_inserts_then_updates_the_one_row_of_each_kind(as_, db, pair):
    a, _ = pair
    owner = as_(a["owner"])
    hours = {"mon": [["13:00", "17:00"], ["08:00", "12:00"]], "sat": [["10:00", "14:00"]]}
    r = owner.put(
        BOOKING, json={"timezone": "Europe/Paris", "slot_minutes": 45, "business_hours": hours}
    )
    assert r.status_code == 200, r.text
    assert r.json()["business_hours"]["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert r.json()["updated_at"] is not None
    r = owner.put(BOOKING, json={"timezone": "America/New_York"})
    assert r.json()["timezone"] == "America/New_York" and r.json()["slot_minutes"] == 30
    assert owner.get(BOOKING).json() == r.json()

    r = owner.put(
        COMMUNICATION,
        json={
            "sender_name": "Acme",
            "reply_to": "Hello@Acme.TEST",
            "templates": {"booking_confirmed": "See you {date}"},
        },
    )
    assert r.status_code == 200 and r.json()["reply_to"] == "hello@acme.test"
    r = owner.put(THRESHOLDS, json={"expense_approval_cents": 50_000})
    assert r.status_code == 200 and r.json()["expense_approval_cents"] == 50_000
    owner.put(THRESHOLDS, json={"expense_approval_cents": 60_000})
    for _, model in ALL:
        assert len(rows(db, a, model)) == 1
    assert rows(db, a, Thresholds)[0]["expense_approval_cents"] == 60_000


def test_one_tenants_cached_settings_never_answer_another(as_, db, pair):
    a, b = pair
    owner_a, owner_b = as_(a["owner"]), as_(b["owner"])
    # Warm both caches with the defaults, then give each tenant its own values.
    for client in (owner_a, owner_b):
        for path, _ in ALL:
            assert client.get(path).status_code == 200
    owner_a.put(THRESHOLDS, json={"expense_approval_cents": 111})
    owner_b.put(THRESHOLDS, json={"expense_approval_cents": 222})
    owner_a.put(BOOKING, json={"timezone": "Europe/Berlin"})
    owner_b.put(BOOKING, json={"timezone": "Asia/Tokyo"})
    owner_a.put(COMMUNICATION, json={"sender_name": "Tenant A"})
    for _ in range(5):  # interleaved, every read served from a warm cache
        assert owner_a.get(THRESHOLDS).json()["expense_approval_cents"] == 111
        assert owner_b.get(THRESHOLDS).json()["expense_approval_cents"] == 222
        assert owner_a.get(BOOKING).json()["timezone"] == "Europe/Berlin"
        assert owner_b.get(BOOKING).json()["timezone"] == "Asia/Tokyo"
        assert owner_a.get(COMMUNICATION).json()["sender_name"] == "Tenant A"
        assert owner_b.get(COMMUNICATION).json()["sender_name"] == ""


def test_reads_are_cached_per_tenant_and_a_write_invalidates_only_that_tenant(as_, db, pair):
    a, b = pair
    owner_a, owner_b = as_(a["owner"]), as_(b["owner"])
    owner_a.put(THRESHOLDS, json={"invoice_overdue_days": 10})
    owner_b.put(THRESHOLDS, json={"invoice_overdue_days": 20})
    assert owner_a.get(THRESHOLDS).json()["invoice_overdue_days"] == 10
    assert owner_b.get(THRESHOLDS).json()["invoice_overdue_days"] == 20
    # Change B's row behind the API's back: B's warm cache still answers, A is untouched.
    with tenant_context(TenantContext(tenant_id=b.id)), db.session() as s:
        s.execute(update(Thresholds).values(invoice_overdue_days=99))
    assert owner_b.get(THRESHOLDS).json()["invoice_overdue_days"] == 20
    # A write through the API invalidates: the next read is fresh.
    owner_b.put(THRESHOLDS, json={"invoice_overdue_days": 21})
    assert owner_b.get(THRESHOLDS).json()["invoice_overdue_days"] == 21
    assert owner_a.get(THRESHOLDS).json()["invoice_overdue_days"] == 10


def test_staff_may_read_settings_but_not_change_them(as_, db, untouched):
    a = untouched
    staff = as_(a["staff"])
    for path, model in ALL:
        assert staff.get(path).status_code == 200
        r = staff.put(path, json={})
        assert r.status_code == 403 and code(r) == "role_required"
        assert rows(db, a, model) == []


def test_a_client_cannot_read_or_change_settings(as_, db, untouched):
    a = untouched
    member = as_(a["client"])
    for path, model in ALL:
        for r in (member.get(path), member.put(path, json={})):
            assert r.status_code == 403 and code(r) == "role_required"
        assert rows(db, a, model) == []


def test_a_tenant_id_in_the_body_is_refused_and_no_tenant_changes(as_, db, pair):
    a, b = pair
    as_(b["owner"]).put(THRESHOLDS, json={"expense_approval_cents": 5})
    before_b = rows(db, b, Thresholds)
    owner = as_(a["owner"])
    for path, _ in ALL:
        r = owner.put(path, json={"tenant_id": str(b.id)})
        assert r.status_code == 422 and code(r) == "validation_error"
    assert rows(db, b, Thresholds) == before_b
    for _, model in ALL:
        assert rows(db, a, model) == []


@pytest.mark.parametrize(("path", "payload"), [
    (BOOKING, {"timezone": "Mars/Olympus"}),
    (BOOKING, {"slot_minutes": 0}),
    (BOOKING, {"max_advance_days": 0}),
    (BOOKING, {"buffer_minutes": -1}),
    (BOOKING, {"business_hours": {"mon": [["17:00", "09:00"]]}}),
    (BOOKING, {"business_hours": {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}}),
    (BOOKING, {"business_hours": {"funday": [["09:00", "17:00"]]}}),
    (BOOKING, {"business_hours": {"mon": [["9am", "5pm"]]}}),
    (COMMUNICATION, {"reply_to": "nope"}),
    (COMMUNICATION, {"reminder_lead_minutes": -1}),
    (COMMUNICATION, {"templates": {"Bad Key": "x"}}),
    (THRESHOLDS, {"expense_approval_cents": -1}),
    (THRESHOLDS, {"invoice_overdue_days": "soon"}),
])  # fmt: skip
def test_invalid_settings_are_422_and_nothing_is_stored(as_, db, untouched, path, payload):
    r = as_(untouched["owner"]).put(path, json=payload)
    assert r.status_code == 422 and code(r) == "validation_error", r.text
    for _, model in ALL:
        assert rows(db, untouched, model) == []


def test_signed_out_caller_is_401(client):
    for path, _ in ALL:
        assert client.get(path).status_code == 401


def test_demo_settings_fill_all_three_singletons_once(db):
    from tenantry.kit.demo import DemoTenant
    from tenantry.tenant_settings.demo import fill
    from tenantry.tenants.lifecycle import TenantRef

    tenant = make_tenant(db, roles=("owner",))
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, "Demo"), {"owner": tenant["owner"].user_id})
    fill(db, demo)
    first = [rows(db, tenant, model) for _, model in ALL]
    fill(db, demo)
    assert [rows(db, tenant, model) for _, model in ALL] == first
    assert all(len(r) == 1 for r in first)


def test_every_member_reads_the_tenants_zone_and_currency_and_invoices_default_to_it(as_, db):
    a, b = make_tenant(db, roles=("owner", "staff", "client")), make_tenant(db, roles=("client",))
    saved = as_(a["owner"]).put(
        "/api/admin/booking-settings", json={"timezone": "Europe/Paris", "currency": "EUR"}
    )
    assert saved.status_code == 200, saved.text
    for role in ("owner", "staff", "client"):
        locale = as_(a[role]).get("/api/tenant/locale").json()
        assert locale == {"timezone": "Europe/Paris", "currency": "EUR"}, role
    assert as_(b["client"]).get("/api/tenant/locale").json() == {
        "timezone": "UTC",
        "currency": "USD",
    }
    invoice = as_(a["owner"]).post(
        "/api/admin/invoices",
        json={
            "client_id": str(a["client"].user_id),
            "lines": [{"description": "Visit", "unit_price_cents": 5000}],
        },
    )
    assert invoice.status_code == 201 and invoice.json()["currency"] == "EUR"
    bad = as_(a["owner"]).put("/api/admin/booking-settings", json={"currency": "euro"})
    assert bad.status_code == 422

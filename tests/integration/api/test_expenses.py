"""Expenses over HTTP: /api/admin/expenses (record, list, approve, reject).

Tenants and signed-in clients are shared per module (signing in is the slow part);
each test works on the rows it creates.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.expenses.models import Expense
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenant_settings.models import Thresholds
from tests.factories import make_tenant
from tests.helpers import code, login

URL = "/api/admin/expenses"
TODAY = date.today()


def rows(db, tenant_id) -> dict[uuid.UUID, Expense]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return {e.id: e for e in s.scalars(select(Expense)).all()}


def expense(amount=12_500, **extra) -> dict:
    return {
        "amount_cents": amount,
        "category": "travel",
        "description": "Train to the site",
        "incurred_on": str(TODAY - timedelta(days=2)),
        **extra,
    }


@pytest.fixture(scope="module")
def ta(db):
    return make_tenant(db)


@pytest.fixture(scope="module")
def tb(db):
    return make_tenant(db)


def _signed_in(app, member):
    c = TestClient(app)
    c.__enter__()
    login(c, member)
    return c


@pytest.fixture(scope="module")
def as_a(app, ta):
    clients = {role: _signed_in(app, ta[role]) for role in ("admin", "staff", "client")}
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def admin_b(app, tb):
    c = _signed_in(app, tb["admin"])
    yield c
    c.__exit__(None, None, None)


def record(c, **kw) -> dict:
    r = c.post(URL, json=expense(**kw))
    assert r.status_code == 201, r.text
    return r.json()


# --- record -----------------------------------------------------------------------------


def test_staff_record_an_expense_for_themselves_pending_approval(db, as_a, ta):
    e = record(as_a["staff"])
    assert e["user_id"] == str(ta["staff"].user_id)
    assert e["status"] == "submitted" and e["amount_cents"] == 12_500
    assert rows(db, ta.id)[uuid.UUID(e["id"])].status == "submitted"


def test_an_expense_cannot_be_recorded_for_someone_else(db, as_a, ta):
    before = set(rows(db, ta.id))
    r = as_a["staff"].post(URL, json=expense(user_id=str(ta["admin"].user_id)))
    assert r.status_code == 422
    assert set(rows(db, ta.id)) == before


def test_expenses_up_to_the_threshold_are_approved_and_above_it_wait(app, db):
    tenant = make_tenant(db, roles=("owner",))
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(Thresholds(expense_approval_cents=10_000))
    with TestClient(app) as c:
        login(c, tenant["owner"])
        assert record(c, amount=10_000)["status"] == "approved"
        assert record(c, amount=10_001)["status"] == "submitted"


def test_without_thresholds_every_expense_waits_for_approval(as_a):
    assert record(as_a["admin"], amount=1)["status"] == "submitted"


@pytest.mark.parametrize(
    "body",
    [
        expense(amount=0),
        expense(amount=-5),
        expense(category=""),
        expense(incurred_on="yesterday"),
        {"amount_cents": 100, "incurred_on": str(TODAY)},
        expense(status="approved"),
    ],
)
def test_invalid_expenses_are_422_and_nothing_is_stored(db, as_a, ta, body):
    before = set(rows(db, ta.id))
    r = as_a["staff"].post(URL, json=body)
    assert r.status_code == 422 and code(r) == "validation_error"
    assert set(rows(db, ta.id)) == before


def test_an_expense_in_the_future_is_422(db, as_a, ta):
    before = set(rows(db, ta.id))
    r = as_a["staff"].post(URL, json=expense(incurred_on=str(TODAY + timedelta(days=10))))
    assert r.status_code == 422 and code(r) == "expense_in_future"
    assert set(rows(db, ta.id)) == before


def test_a_client_cannot_record_an_expense(db, as_a, ta):
    before = set(rows(db, ta.id))
    r = as_a["client"].post(URL, json=expense())
    assert r.status_code == 403 and code(r) == "role_required"
    assert set(rows(db, ta.id)) == before


# --- list -------------------------------------------------------------------------------


def test_list_filters_by_status_and_member_and_pages(as_a, ta):
    mine = record(as_a["staff"], amount=777)
    approved = record(as_a["staff"], amount=778)  # approved by someone else: the admin
    assert as_a["admin"].post(f"{URL}/{approved['id']}/approve").status_code == 200
    by_staff = as_a["admin"].get(URL, params={"user_id": str(ta["staff"].user_id)}).json()
    assert mine["id"] in [e["id"] for e in by_staff["items"]]
    assert {e["user_id"] for e in by_staff["items"]} == {str(ta["staff"].user_id)}
    approved_page = as_a["admin"].get(URL, params={"status": "approved"}).json()
    assert approved["id"] in [e["id"] for e in approved_page["items"]]
    assert {e["status"] for e in approved_page["items"]} == {"approved"}
    everything = as_a["admin"].get(URL).json()
    page = as_a["admin"].get(URL, params={"limit": 1, "offset": 1}).json()
    assert len(page["items"]) == 1 and page["total"] == everything["total"] >= 2
    assert page["items"][0] == everything["items"][1]


def test_staff_may_list_expenses(as_a):
    assert as_a["staff"].get(URL).status_code == 200


def test_a_client_cannot_list_expenses(as_a):
    r = as_a["client"].get(URL)
    assert r.status_code == 403 and code(r) == "role_required"


def test_list_refuses_bad_filters(as_a):
    assert as_a["admin"].get(URL, params={"status": "paid"}).status_code == 422
    assert as_a["admin"].get(URL, params={"user_id": "x"}).status_code == 422


def test_admin_of_a_never_sees_expenses_of_b(as_a, admin_b, tb):
    e_b = record(admin_b)
    listed = as_a["admin"].get(URL, params={"user_id": str(tb["admin"].user_id)}).json()
    assert listed["total"] == 0
    assert e_b["id"] not in [e["id"] for e in as_a["admin"].get(URL).json()["items"]]


# --- approve / reject -------------------------------------------------------------------


def test_admin_approves_a_pending_expense_once(db, as_a, ta):
    e = record(as_a["staff"])
    r = as_a["admin"].post(f"{URL}/{e['id']}/approve")
    assert r.status_code == 200 and r.json()["status"] == "approved"
    again = as_a["admin"].post(f"{URL}/{e['id']}/approve")
    assert again.status_code == 409 and code(again) == "invalid_transition"
    assert as_a["admin"].post(f"{URL}/{e['id']}/reject").status_code == 409
    assert rows(db, ta.id)[uuid.UUID(e["id"])].status == "approved"


def test_admin_rejects_a_pending_expense_and_it_cannot_be_approved_after(db, as_a, ta):
    e = record(as_a["staff"])
    assert as_a["admin"].post(f"{URL}/{e['id']}/reject").json()["status"] == "rejected"
    r = as_a["admin"].post(f"{URL}/{e['id']}/approve")
    assert r.status_code == 409 and code(r) == "invalid_transition"
    assert rows(db, ta.id)[uuid.UUID(e["id"])].status == "rejected"


@pytest.mark.parametrize("action", ["approve", "reject"])
@pytest.mark.parametrize("role", ["staff", "client"])
def test_members_without_expenses_approve_cannot_decide(db, as_a, ta, action, role):
    e = record(as_a["staff"])
    r = as_a[role].post(f"{URL}/{e['id']}/{action}")
    assert r.status_code == 403 and code(r) == "role_required"
    assert rows(db, ta.id)[uuid.UUID(e["id"])].status == "submitted"


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_admin_of_a_cannot_decide_an_expense_of_b(db, as_a, admin_b, tb, action):
    e_b = record(admin_b)
    r = as_a["admin"].post(f"{URL}/{e_b['id']}/{action}")
    assert r.status_code == 404 and code(r) == "not_found"
    row = rows(db, tb.id)[uuid.UUID(e_b["id"])]
    assert row.status == "submitted"


def test_deciding_unknown_or_malformed_ids(as_a):
    assert as_a["admin"].post(f"{URL}/{uuid.uuid4()}/approve").status_code == 404
    assert as_a["admin"].post(f"{URL}/nope/reject").status_code == 422


def test_demo_expenses_are_varied_and_loading_twice_adds_nothing(db):
    from tenantry.expenses.demo import fill
    from tenantry.kit.demo import DemoTenant
    from tenantry.tenants.lifecycle import TenantRef

    tenant = make_tenant(db, roles=("owner", "admin", "staff"))
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, tenant.slug))
    demo.users = {role: m.user_id for role, m in tenant.members.items()}
    fill(db, demo)
    first = rows(db, tenant.id)
    fill(db, demo)
    assert rows(db, tenant.id).keys() == first.keys()
    assert {e.status for e in first.values()} == {"submitted", "approved"}
    assert all(e.incurred_on <= TODAY for e in first.values())

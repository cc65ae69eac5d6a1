"""Every admin route checks the permissions of what it exposes — walked, not assumed.

``REQUIRED`` declares, per admin route, the permissions it needs (all of them). The
walk gives a staff member exactly ONE permission at a time and calls every admin route
with real ids of the tenant: a route may answer anything but ``403 role_required`` only
when its declared set is within that one permission. Routes needing two permissions are
then called with exactly their set (granted) — the single-permission pass already showed
each half alone is refused. A route missing from the table fails the test: a new route
must be declared here (issue 8, finding 5: nested routes used to check only their own
permission, so ``attachments.read`` served an expense's receipt).

Checks that depend on the request body (``service_request_id`` in a work order, a
reminder or an invoice) are tested in ``test_nested_permissions.py``; with the walk's
empty bodies those routes answer 422 once their static permissions pass.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from tenantry.attachments.models import Attachment
from tenantry.bookings.models import Booking
from tenantry.contact.models import ContactSubmission
from tenantry.expenses.models import Expense
from tenantry.invoices.models import Invoice
from tenantry.isolation.scopes import iter_api_routes
from tenantry.permissions.catalog import PERMISSIONS
from tenantry.posts.models import Post
from tenantry.reminders.models import ScheduledReminder
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tenantry.work_orders.models import WorkOrder
from tests.factories import add_client, make_tenant
from tests.integration.api._logged_in import SignedIn

R = frozenset
REQUIRED: dict[str, frozenset[str]] = {
    "GET /api/admin/services": R({"services.read"}),
    "POST /api/admin/services": R({"services.write"}),
    "GET /api/admin/services/{service_id}": R({"services.read"}),
    "PATCH /api/admin/services/{service_id}": R({"services.write"}),
    "DELETE /api/admin/services/{service_id}": R({"services.write"}),
    "GET /api/admin/settings/services": R({"services.read"}),
    "PUT /api/admin/settings/services": R({"services.write"}),
    "GET /api/admin/service-requests": R({"requests.read"}),
    "GET /api/admin/service-requests/{request_id}": R({"requests.read"}),
    "POST /api/admin/service-requests": R({"requests.write"}),
    "PATCH /api/admin/service-requests/{request_id}": R({"requests.write"}),
    "POST /api/admin/service-requests/{request_id}/assign": R({"requests.write"}),
    "POST /api/admin/service-requests/{request_id}/status": R({"requests.write"}),
    "POST /api/admin/service-requests/{request_id}/convert-to-booking": R(
        {"requests.write", "bookings.write"}
    ),
    "GET /api/admin/bookings": R({"bookings.read"}),
    "GET /api/admin/bookings/stats": R({"bookings.read"}),
    "GET /api/admin/bookings/pending-count": R({"bookings.read"}),
    "GET /api/admin/bookings/{booking_id}": R({"bookings.read"}),
    "POST /api/admin/bookings": R({"bookings.write"}),
    "POST /api/admin/bookings/{booking_id}/reschedule": R({"bookings.write"}),
    "POST /api/admin/bookings/{booking_id}/cancel": R({"bookings.write"}),
    "POST /api/admin/bookings/{booking_id}/confirm": R({"bookings.write"}),
    "POST /api/admin/bookings/{booking_id}/complete": R({"bookings.write"}),
    "GET /api/admin/calendar": R({"bookings.read"}),
    "GET /api/admin/availability": R({"bookings.read"}),  # staff free time, like the calendar
    "GET /api/admin/work-orders": R({"work_orders.read"}),
    "GET /api/admin/work-orders/{work_order_id}": R({"work_orders.read"}),
    "POST /api/admin/work-orders": R({"work_orders.write"}),  # + reads of body references
    "PATCH /api/admin/work-orders/{work_order_id}": R({"work_orders.write"}),
    "POST /api/admin/work-orders/{work_order_id}/status": R({"work_orders.write"}),
    "GET /api/admin/invoices": R({"invoices.read"}),
    "POST /api/admin/invoices": R({"invoices.write"}),  # + bookings.read with a booking_id
    "GET /api/admin/invoices/{invoice_id}": R({"invoices.read"}),
    "POST /api/admin/invoices/{invoice_id}/send": R({"invoices.write"}),
    "POST /api/admin/invoices/{invoice_id}/mark-paid": R({"invoices.write"}),
    "POST /api/admin/invoices/{invoice_id}/void": R({"invoices.write"}),
    "GET /api/admin/expenses": R({"expenses.read"}),
    "POST /api/admin/expenses": R({"expenses.write"}),
    "POST /api/admin/expenses/{expense_id}/approve": R({"expenses.approve"}),
    "POST /api/admin/expenses/{expense_id}/reject": R({"expenses.approve"}),
    "POST /api/admin/service-requests/{service_request_id}/attachments": R(
        {"attachments.write", "requests.read"}
    ),
    "GET /api/admin/service-requests/{service_request_id}/attachments": R(
        {"attachments.read", "requests.read"}
    ),
    "POST /api/admin/expenses/{expense_id}/attachments": R({"attachments.write", "expenses.read"}),
    "GET /api/admin/expenses/{expense_id}/attachments": R({"attachments.read", "expenses.read"}),
    # The walk's attachment hangs from an expense: its parent's read is expenses.read
    # (a request's file needs requests.read instead; see test_nested_permissions).
    "GET /api/admin/attachments/{attachment_id}": R({"attachments.read", "expenses.read"}),
    "GET /api/admin/attachments/{attachment_id}/download": R({"attachments.read", "expenses.read"}),
    "GET /api/admin/reminders": R({"reminders.read"}),
    "POST /api/admin/reminders": R({"reminders.write"}),  # + read of the target
    "GET /api/admin/reminders/{reminder_id}": R({"reminders.read"}),
    "POST /api/admin/reminders/{reminder_id}/cancel": R({"reminders.write"}),
    "GET /api/admin/chat": R({"chat.read"}),
    "POST /api/admin/chat": R({"chat.write"}),
    "GET /api/admin/service-requests/{service_request_id}/chat": R({"chat.read", "requests.read"}),
    "POST /api/admin/service-requests/{service_request_id}/chat": R(
        {"chat.write", "requests.read"}
    ),
    "GET /api/admin/posts": R({"posts.read"}),
    "POST /api/admin/posts": R({"posts.write"}),
    "GET /api/admin/posts/{post_id}": R({"posts.read"}),
    "PATCH /api/admin/posts/{post_id}": R({"posts.write"}),
    "POST /api/admin/posts/{post_id}/publish": R({"posts.write"}),
    "POST /api/admin/posts/{post_id}/unpublish": R({"posts.write"}),
    "DELETE /api/admin/posts/{post_id}": R({"posts.write"}),
    "GET /api/admin/contact-submissions": R({"contact.read"}),
    "DELETE /api/admin/contact-submissions/{submission_id}": R({"contact.write"}),
    "GET /api/admin/permissions": R({"team.read"}),
    "PUT /api/admin/permissions/{role}": R({"permissions.manage"}),
    "GET /api/admin/team-members": R({"team.read"}),
    "PATCH /api/admin/team-members/{user_id}": R({"team.manage"}),
    "DELETE /api/admin/team-members/{user_id}": R({"team.manage"}),
    "GET /api/admin/invitations": R({"team.read"}),
    "POST /api/admin/invitations": R({"team.manage"}),
    "DELETE /api/admin/invitations/{invitation_id}": R({"team.manage"}),
    "POST /api/admin/invitations/{invitation_id}/resend": R({"team.manage"}),
    "GET /api/admin/booking-settings": R({"settings.read"}),
    "PUT /api/admin/booking-settings": R({"settings.write"}),
    "GET /api/admin/communication-settings": R({"settings.read"}),
    "PUT /api/admin/communication-settings": R({"settings.write"}),
    "GET /api/admin/thresholds": R({"settings.read"}),
    "PUT /api/admin/thresholds": R({"settings.write"}),
    "GET /api/admin/users": R({"team.read"}),
    "POST /api/admin/email/test": R({"email.test"}),
}


def admin_routes(app) -> list[tuple[str, str]]:
    found = set()
    for route, path in iter_api_routes(app):
        if path.startswith("/api/admin"):
            for method in route.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    found.add((method, path))
    return sorted(found)


@pytest.fixture(scope="module")
def world(db):
    """One tenant with a record of every kind the admin routes name."""
    tenant = make_tenant(db, roles=("owner", "staff", "client"))
    other = add_client(db, tenant)
    owner, client = tenant["owner"].user_id, tenant["client"].user_id
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    with db.system_session(reason="permission walk world") as s:
        svc = Service(tenant_id=tenant.id, slug=f"walk-{uuid.uuid4().hex[:6]}", name="Walk",
                      price_cents=1000, duration_minutes=60)  # fmt: skip
        s.add(svc)
        s.flush()
        req = ServiceRequest(tenant_id=tenant.id, client_id=client, service_id=svc.id,
                             title="Walk request")  # fmt: skip
        s.add(req)
        s.flush()
        booking = Booking(tenant_id=tenant.id, client_id=client, service_id=svc.id,
                          starts_at=start, ends_at=start + timedelta(hours=1))  # fmt: skip
        expense = Expense(tenant_id=tenant.id, user_id=owner, amount_cents=500,
                          category="fuel", incurred_on=date.today())  # fmt: skip
        s.add_all([booking, expense])
        s.flush()
        rows = {
            "work_order_id": WorkOrder(tenant_id=tenant.id, title="Walk work"),
            "invoice_id": Invoice(tenant_id=tenant.id, client_id=client, number="WALK-1"),
            "attachment_id": Attachment(tenant_id=tenant.id, expense_id=expense.id,
                                        uploaded_by_id=owner, filename="r.png",
                                        content_type="image/png", size_bytes=4,
                                        storage_key=f"{tenant.id}/{uuid.uuid4().hex}"),
            "reminder_id": ScheduledReminder(tenant_id=tenant.id, booking_id=booking.id,
                                             channel="email", send_at=start),
            "post_id": Post(tenant_id=tenant.id, author_id=owner, slug="walk", title="Walk"),
            "submission_id": ContactSubmission(tenant_id=tenant.id, name="V",
                                               email="v@example.test", message="Hi"),
        }  # fmt: skip
        s.add_all(rows.values())
        s.flush()
        ids = {name: str(row.id) for name, row in rows.items()}
    ids.update(
        service_id=str(svc.id),
        request_id=str(req.id),
        service_request_id=str(req.id),
        booking_id=str(booking.id),
        expense_id=str(expense.id),
        user_id=str(other.user_id),  # a client member: never the walker itself
        role="admin",  # never the walker's own role
    )
    return tenant, ids


@pytest.fixture(scope="module")
def signed(app):
    s = SignedIn(app)
    yield s
    s.close()


def call(client, method: str, path: str, ids: dict[str, str]):
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    if method == "DELETE":  # never destroy what later calls need: a random id
        path = path.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, path, **kwargs)


def refused(response) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == "role_required"


def set_staff(owner, permissions) -> None:
    r = owner.put("/api/admin/permissions/staff", json={"permissions": sorted(permissions)})
    assert r.status_code == 200, r.text


def test_the_table_declares_every_admin_route(app):
    routes = {f"{m} {p}" for m, p in admin_routes(app)}
    assert routes - set(REQUIRED) == set(), "declare these routes in REQUIRED"
    assert set(REQUIRED) - routes == set(), "these declared routes no longer exist"
    assert all(REQUIRED[k] <= set(PERMISSIONS) for k in REQUIRED)


def test_every_admin_route_with_each_single_permission_matches_the_table(app, signed, world):
    tenant, ids = world
    owner, staff = signed(tenant["owner"]), signed(tenant["staff"])
    routes = admin_routes(app)
    wrong: list[str] = []
    for permission in sorted(PERMISSIONS):
        set_staff(owner, {permission})
        for method, path in routes:
            answer = call(staff, method, path, ids)
            assert answer.status_code != 500, (permission, method, path, answer.text)
            expected = REQUIRED[f"{method} {path}"] <= {permission}
            if refused(answer) == expected:
                wrong.append(
                    f"{permission}: {method} {path} -> {answer.status_code} "
                    f"(expected {'granted' if expected else 'refused'})"
                )
    assert not wrong, "\n".join(wrong)


def test_routes_needing_several_permissions_pass_with_exactly_those(app, signed, world):
    tenant, ids = world
    owner, staff = signed(tenant["owner"]), signed(tenant["staff"])
    by_set: dict[frozenset[str], list[str]] = {}
    for key, needed in REQUIRED.items():
        if len(needed) > 1:
            by_set.setdefault(needed, []).append(key)
    assert by_set
    wrong = []
    for needed, keys in by_set.items():
        set_staff(owner, needed)
        for key in keys:
            method, path = key.split(" ", 1)
            answer = call(staff, method, path, ids)
            if refused(answer):
                wrong.append(f"{sorted(needed)}: {key} refused")
    assert not wrong, "\n".join(wrong)

"""Work orders over HTTP: /api/admin/work-orders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.bookings.models import Booking
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tenantry.work_orders.models import WorkOrder
from tests.factories import count_rows, make_tenant
from tests.helpers import code, login, module_tenant

URL = "/api/admin/work-orders"


def make_sources(db: Any, tenant: Any) -> dict[str, uuid.UUID]:
    """A service, a service request assigned to staff, and a booking of that request."""
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        svc = Service(
            slug="svc-" + uuid.uuid4().hex[:8],
            name="Roof repair",
            price_cents=1,
            duration_minutes=60,
        )
        s.add(svc)
        s.flush()
        request = ServiceRequest(
            client_id=tenant["client"].user_id,
            service_id=svc.id,
            title="Loose tiles after the storm",
            status="assigned",
            assignee_id=tenant["staff"].user_id,
        )
        s.add(request)
        s.flush()
        start = datetime(2031, 3, 4, 9, 30, tzinfo=UTC)
        booking = Booking(
            client_id=tenant["client"].user_id,
            service_id=svc.id,
            service_request_id=request.id,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            assignee_id=tenant["admin"].user_id if "admin" in tenant.members else None,
        )
        s.add(booking)
        s.flush()
        return {"service": svc.id, "request": request.id, "booking": booking.id}


def make_work_order(
    db: Any,
    tenant_id: uuid.UUID,
    *,
    title: str = "Fix the gate",
    status: str = "open",
    assignee_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
) -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        row = WorkOrder(title=title, status=status, assignee_id=assignee_id, due_at=due_at)
        s.add(row)
        s.flush()
        return row.id


def snapshot(db: Any, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        rows = s.execute(
            select(
                WorkOrder.id,
                WorkOrder.title,
                WorkOrder.status,
                WorkOrder.assignee_id,
                WorkOrder.due_at,
                WorkOrder.updated_at,
            ).order_by(WorkOrder.id)
        ).all()
    return [tuple(r) for r in rows]


tenant_a = module_tenant("tenant_a")
tenant_b = module_tenant("tenant_b")


@pytest.fixture(scope="module")
def sources(db: Any, tenant_a: Any, tenant_b: Any) -> dict[str, dict[str, uuid.UUID]]:
    return {"a": make_sources(db, tenant_a), "b": make_sources(db, tenant_b)}


@pytest.fixture
def orders(db: Any, tenant_a: Any, tenant_b: Any) -> dict[str, uuid.UUID]:
    return {"a": make_work_order(db, tenant_a.id), "b": make_work_order(db, tenant_b.id)}


# --- list ----------------------------------------------------------------------------


def test_staff_lists_work_orders_due_first_with_filters(db: Any, app: Any) -> None:
    tenant = make_tenant(db, roles=("staff",))
    staff_id = tenant["staff"].user_id
    now = datetime.now(UTC)
    undated = make_work_order(db, tenant.id, title="Someday")
    later = make_work_order(db, tenant.id, due_at=now + timedelta(days=5), assignee_id=staff_id)
    sooner = make_work_order(db, tenant.id, due_at=now + timedelta(days=1), status="in_progress")
    staff = TestClient(app)
    login(staff, tenant["staff"])

    def ids(**params: Any) -> list[str]:
        response = staff.get(URL, params=params)
        assert response.status_code == 200, response.text
        return [w["id"] for w in response.json()["items"]]

    assert ids() == [str(sooner), str(later), str(undated)]
    assert ids(status="in_progress") == [str(sooner)]
    assert ids(assignee_id=str(staff_id)) == [str(later)]
    page = staff.get(URL, params={"limit": 1, "offset": 2}).json()
    assert [w["id"] for w in page["items"]] == [str(undated)] and page["total"] == 3
    staff.close()


def test_client_cannot_list_work_orders(tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["client"]).get(URL)
    assert response.status_code == 403 and code(response) == "role_required"


def test_list_of_a_never_shows_work_orders_of_b(
    orders: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    staff = sign_in(tenant_a["staff"])
    ids = [w["id"] for w in staff.get(URL, params={"limit": 200}).json()["items"]]
    assert str(orders["a"]) in ids and str(orders["b"]) not in ids
    filtered = staff.get(URL, params={"assignee_id": str(tenant_b["staff"].user_id)})
    assert filtered.status_code == 200 and filtered.json()["total"] == 0


def test_list_with_invalid_filters_is_422(tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    assert staff.get(URL, params={"status": "paused"}).status_code == 422
    assert staff.get(URL, params={"assignee_id": "me"}).status_code == 422


# --- get -----------------------------------------------------------------------------


def test_staff_gets_a_work_order(orders: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["staff"]).get(f"{URL}/{orders['a']}")
    assert response.status_code == 200 and response.json()["id"] == str(orders["a"])


def test_client_cannot_get_a_work_order(orders: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["client"]).get(f"{URL}/{orders['a']}")
    assert response.status_code == 403 and code(response) == "role_required"


def test_staff_of_a_cannot_get_a_work_order_of_b(orders: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    theirs, nowhere = staff.get(f"{URL}/{orders['b']}"), staff.get(f"{URL}/{uuid.uuid4()}")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["error"]["message"] == nowhere.json()["error"]["message"]
    assert staff.get(f"{URL}/12").status_code == 422


# --- create --------------------------------------------------------------------------


def test_staff_opens_a_standalone_work_order(db: Any, tenant_a: Any, sign_in: Any) -> None:
    due = datetime(2031, 5, 1, 12, tzinfo=UTC)
    response = sign_in(tenant_a["staff"]).post(
        URL,
        json={
            "title": "Service the van",
            "assignee_id": str(tenant_a["staff"].user_id),
            "due_at": due.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "open" and body["title"] == "Service the van"
    assert datetime.fromisoformat(body["due_at"]) == due
    assert body["service_request_id"] is None and body["booking_id"] is None


def test_a_work_order_from_a_request_takes_its_title_and_assignee(
    sources: Any, tenant_a: Any, sign_in: Any
) -> None:
    response = sign_in(tenant_a["staff"]).post(
        URL, json={"service_request_id": str(sources["a"]["request"])}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Loose tiles after the storm"
    assert body["assignee_id"] == str(tenant_a["staff"].user_id)
    assert body["service_request_id"] == str(sources["a"]["request"])


def test_a_work_order_from_a_booking_takes_its_assignee(
    sources: Any, tenant_a: Any, sign_in: Any
) -> None:
    response = sign_in(tenant_a["staff"]).post(
        URL, json={"booking_id": str(sources["a"]["booking"]), "description": "Bring ladder"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["booking_id"] == str(sources["a"]["booking"])
    assert body["assignee_id"] == str(tenant_a["admin"].user_id)
    assert body["title"].startswith("Booking on 2031-03-04")


def test_a_booking_of_another_request_is_refused(
    db: Any, sources: Any, tenant_a: Any, sign_in: Any
) -> None:
    other = make_sources(db, tenant_a)
    before = count_rows(db, tenant_a.id, WorkOrder)
    response = sign_in(tenant_a["staff"]).post(
        URL,
        json={
            "service_request_id": str(sources["a"]["request"]),
            "booking_id": str(other["booking"]),
        },
    )
    assert response.status_code == 422 and code(response) == "booking_not_of_request"
    assert count_rows(db, tenant_a.id, WorkOrder) == before


def test_client_cannot_open_a_work_order(db: Any, tenant_a: Any, sign_in: Any) -> None:
    before = count_rows(db, tenant_a.id, WorkOrder)
    response = sign_in(tenant_a["client"]).post(URL, json={"title": "x"})
    assert response.status_code == 403 and code(response) == "role_required"
    assert count_rows(db, tenant_a.id, WorkOrder) == before


def test_staff_of_a_cannot_open_a_work_order_on_a_request_booking_or_assignee_of_b(
    db: Any, sources: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_a, before_b = count_rows(db, tenant_a.id, WorkOrder), snapshot(db, tenant_b.id)
    staff = sign_in(tenant_a["staff"])
    for body, expected in (
        ({"service_request_id": str(sources["b"]["request"])}, "unknown_service_request"),
        ({"booking_id": str(sources["b"]["booking"])}, "unknown_booking"),
        ({"title": "x", "assignee_id": str(tenant_b["staff"].user_id)}, "unknown_assignee"),
        ({"title": "x", "assignee_id": str(tenant_a["client"].user_id)}, "unknown_assignee"),
    ):
        response = staff.post(URL, json=body)
        assert response.status_code == 422 and code(response) == expected, body
    assert count_rows(db, tenant_a.id, WorkOrder) == before_a
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"description": "no title and nothing to take one from"},
        {"title": ""},
        {"title": "x" * 201},
        {"title": "x", "due_at": "2031-01-01T10:00:00"},
        {"title": "x", "tenant_id": str(uuid.uuid4())},
        {"title": "x", "status": "done"},
    ],
)
def test_create_with_invalid_input_is_422_and_stores_nothing(
    db: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    before = count_rows(db, tenant_a.id, WorkOrder)
    response = sign_in(tenant_a["staff"]).post(URL, json=body)
    assert response.status_code == 422 and code(response) == "validation_error"
    assert count_rows(db, tenant_a.id, WorkOrder) == before


# --- update (PATCH) ------------------------------------------------------------------


def test_staff_replans_a_work_order_and_null_clears(db: Any, tenant_a: Any, sign_in: Any) -> None:
    wid = make_work_order(
        db, tenant_a.id, assignee_id=tenant_a["staff"].user_id, due_at=datetime.now(UTC)
    )
    staff = sign_in(tenant_a["staff"])
    response = staff.patch(
        f"{URL}/{wid}", json={"title": "Fix the gate hinge", "assignee_id": None, "due_at": None}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "Fix the gate hinge"
    assert body["assignee_id"] is None and body["due_at"] is None
    reassigned = staff.patch(f"{URL}/{wid}", json={"assignee_id": str(tenant_a["admin"].user_id)})
    assert reassigned.json()["assignee_id"] == str(tenant_a["admin"].user_id)
    assert reassigned.json()["title"] == "Fix the gate hinge"


def test_a_finished_work_order_cannot_be_replanned(db: Any, tenant_a: Any, sign_in: Any) -> None:
    wid = make_work_order(db, tenant_a.id, status="done")
    response = sign_in(tenant_a["staff"]).patch(f"{URL}/{wid}", json={"title": "again"})
    assert response.status_code == 409 and code(response) == "record_closed"


def test_client_cannot_replan(db: Any, orders: Any, tenant_a: Any, sign_in: Any) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).patch(f"{URL}/{orders['a']}", json={"title": "x"})
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


def test_staff_of_a_cannot_replan_a_work_order_of_b_nor_assign_staff_of_b(
    db: Any, orders: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_a, before_b = snapshot(db, tenant_a.id), snapshot(db, tenant_b.id)
    staff = sign_in(tenant_a["staff"])
    theirs = staff.patch(f"{URL}/{orders['b']}", json={"title": "taken over"})
    assert theirs.status_code == 404 and code(theirs) == "not_found"
    foreign = staff.patch(
        f"{URL}/{orders['a']}", json={"assignee_id": str(tenant_b["staff"].user_id)}
    )
    assert foreign.status_code == 422 and code(foreign) == "unknown_assignee"
    assert snapshot(db, tenant_a.id) == before_a
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": None},
        {"title": ""},
        {"status": "done"},
        {"due_at": "2031-01-01T10:00:00"},
        {"tenant_id": str(uuid.uuid4())},
    ],
)
def test_update_with_invalid_input_is_422(
    db: Any, orders: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["staff"]).patch(f"{URL}/{orders['a']}", json=body)
    assert response.status_code == 422
    assert snapshot(db, tenant_a.id) == before


# --- status --------------------------------------------------------------------------


def test_a_work_order_goes_open_in_progress_back_and_done(
    orders: Any, tenant_a: Any, sign_in: Any
) -> None:
    staff = sign_in(tenant_a["staff"])
    url = f"{URL}/{orders['a']}/status"
    for step in ("in_progress", "open", "in_progress", "done"):
        response = staff.post(url, json={"status": step})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == step
    for step in ("open", "cancelled", "in_progress"):
        refused = staff.post(url, json={"status": step})
        assert refused.status_code == 409 and code(refused) == "invalid_transition"


def test_open_work_can_be_cancelled_but_not_done_directly(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    staff = sign_in(tenant_a["staff"])
    wid = make_work_order(db, tenant_a.id)
    skip = staff.post(f"{URL}/{wid}/status", json={"status": "done"})
    assert skip.status_code == 409 and code(skip) == "invalid_transition"
    cancelled = staff.post(f"{URL}/{wid}/status", json={"status": "cancelled"})
    assert cancelled.json()["status"] == "cancelled"


def test_client_cannot_change_work_order_status(
    db: Any, orders: Any, tenant_a: Any, sign_in: Any
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).post(
        f"{URL}/{orders['a']}/status", json={"status": "in_progress"}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


def test_staff_of_a_cannot_change_status_of_a_work_order_of_b(
    db: Any, orders: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_b = snapshot(db, tenant_b.id)
    response = sign_in(tenant_a["staff"]).post(
        f"{URL}/{orders['b']}/status", json={"status": "cancelled"}
    )
    assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize("body", [{}, {"status": "paused"}, {"status": "done", "extra": 1}])
def test_status_with_invalid_input_is_422(
    db: Any, orders: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["staff"]).post(f"{URL}/{orders['a']}/status", json=body)
    assert response.status_code == 422
    assert snapshot(db, tenant_a.id) == before


# --- demo data (requests, bookings and work orders fillers) --------------------------


def test_demo_fillers_add_believable_rows_once_and_nothing_without_services(db: Any) -> None:
    from tenantry.bookings import demo as bookings_demo
    from tenantry.kit.demo import DemoTenant
    from tenantry.service_requests import demo as requests_demo
    from tenantry.tenants.lifecycle import TenantRef, add_member
    from tenantry.work_orders import demo as work_orders_demo
    from tests.factories import make_user

    fillers = (bookings_demo.fill, requests_demo.fill, work_orders_demo.fill)

    def demo_for(tenant: Any) -> DemoTenant:
        consultant = make_user(db)
        add_member(db, tenant_id=tenant.id, user_id=consultant.user_id, role="staff")
        users: dict[str, object] = {r: m.user_id for r, m in tenant.members.items()}
        return DemoTenant(
            TenantRef(tenant.id, tenant.slug, "Demo"), {**users, "consultant": consultant.user_id}
        )

    def rows(tenant_id: uuid.UUID) -> tuple[list[str], list[str], list[str]]:
        with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
            return (
                sorted(s.scalars(select(ServiceRequest.status))),
                sorted(s.scalars(select(Booking.status))),
                sorted(s.scalars(select(WorkOrder.status))),
            )

    bare = make_tenant(db)
    for fill in fillers:
        fill(db, demo_for(bare))
    assert rows(bare.id) == ([], [], [])

    tenant = make_tenant(db)
    make_sources(db, tenant)  # a service, a request and a booking
    make_work_order(db, tenant.id)  # ... and a work order: it already has rows of each kind
    fresh = make_tenant(db)
    with tenant_context(TenantContext(tenant_id=fresh.id)), db.session() as s:
        s.add(Service(slug="clean", name="Clean", price_cents=9000, duration_minutes=120))
        s.add(Service(slug="windows", name="Windows", price_cents=5000, duration_minutes=60))
    demo = demo_for(fresh)
    for _ in range(2):
        for fill in fillers:
            fill(db, demo)
    requests, bookings, work_orders = rows(fresh.id)
    assert requests == sorted(
        ["submitted", "triaged", "assigned", "in_progress", "completed", "cancelled"]
    )
    assert set(bookings) == {"pending", "confirmed", "cancelled", "completed"}
    assert len(bookings) >= 10 and len(work_orders) >= 4
    with tenant_context(TenantContext(tenant_id=fresh.id)), db.session() as s:
        linked = s.scalars(select(Booking).where(Booking.service_request_id.is_not(None))).all()
        assert len(linked) == 2
        starts = [b.starts_at for b in s.scalars(select(Booking))]
        assert max(starts) - datetime.now(UTC) < timedelta(days=22)
    # The tenant that already had rows of each kind got nothing more.
    before = rows(tenant.id)
    for fill in fillers:
        fill(db, demo_for(tenant))
    assert rows(tenant.id) == before

"""Service requests over HTTP: admin (/api/admin/service-requests) and portal
(/api/portal/service-requests)."""

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
from tests.factories import add_client, count_rows, make_service, make_tenant
from tests.helpers import code, login

# The service these tests book: its 90 minutes set a converted booking's end.
BOILER_CHECK = {"name": "Boiler check", "price": 8000, "minutes": 90}

ADMIN = "/api/admin/service-requests"
PORTAL = "/api/portal/service-requests"


# --- helpers -------------------------------------------------------------------------


def make_request(
    db: Any,
    tenant_id: uuid.UUID,
    *,
    client_id: uuid.UUID,
    service_id: uuid.UUID,
    status: str = "submitted",
    priority: str = "normal",
    assignee_id: uuid.UUID | None = None,
    title: str = "Leaking tap",
    description: str = "",
) -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        row = ServiceRequest(
            client_id=client_id,
            service_id=service_id,
            status=status,
            priority=priority,
            assignee_id=assignee_id,
            title=title,
            description=description,
        )
        s.add(row)
        s.flush()
        return row.id


def snapshot(db: Any, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """Every request and booking of the tenant, as plain tuples (to compare before/after)."""
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        requests = s.execute(
            select(
                ServiceRequest.id,
                ServiceRequest.status,
                ServiceRequest.priority,
                ServiceRequest.title,
                ServiceRequest.assignee_id,
                ServiceRequest.updated_at,
            ).order_by(ServiceRequest.id)
        ).all()
        bookings = s.execute(select(Booking.id, Booking.status).order_by(Booking.id)).all()
    return [tuple(r) for r in requests] + [("booking", *tuple(b)) for b in bookings]


# The machine is shared and password hashing is slow on purpose, so the two tenants
# and their signed-in clients live for the whole module; every test makes its own
# services and requests and compares counts and snapshots before and after.
@pytest.fixture(scope="module")
def tenant_a(db: Any) -> Any:
    return make_tenant(db)


@pytest.fixture(scope="module")
def tenant_b(db: Any) -> Any:
    return make_tenant(db)


@pytest.fixture
def world(db: Any, tenant_a: Any, tenant_b: Any) -> dict[str, Any]:
    """A service and one submitted request in each tenant."""
    svc_a = make_service(db, tenant_a.id, **BOILER_CHECK)
    svc_b = make_service(db, tenant_b.id, **BOILER_CHECK)
    req_a = make_request(db, tenant_a.id, client_id=tenant_a["client"].user_id, service_id=svc_a)
    req_b = make_request(db, tenant_b.id, client_id=tenant_b["client"].user_id, service_id=svc_b)
    return {"svc_a": svc_a, "svc_b": svc_b, "req_a": req_a, "req_b": req_b}


def soon(days: int = 3, hour: int = 10) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base.replace(hour=hour)


# --- admin: list ---------------------------------------------------------------------


def test_staff_lists_requests_newest_first_with_filters(db: Any, app: Any) -> None:
    tenant_a = make_tenant(db, roles=("staff", "client"))
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    client_id = tenant_a["client"].user_id
    staff_id = tenant_a["staff"].user_id
    first = make_request(db, tenant_a.id, client_id=client_id, service_id=svc, title="Old boiler")
    second = make_request(
        db,
        tenant_a.id,
        client_id=client_id,
        service_id=svc,
        status="assigned",
        priority="urgent",
        assignee_id=staff_id,
        title="Broken window",
    )
    staff = TestClient(app)
    login(staff, tenant_a["staff"])

    everything = staff.get(ADMIN)
    assert everything.status_code == 200, everything.text
    assert [r["id"] for r in everything.json()["items"]] == [str(second), str(first)]
    assert everything.json()["total"] == 2

    def ids(**params: Any) -> list[str]:
        response = staff.get(ADMIN, params=params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert ids(status="assigned") == [str(second)]
    assert ids(priority="urgent") == [str(second)]
    assert ids(assignee_id=str(staff_id)) == [str(second)]
    assert ids(client_id=str(client_id)) == [str(second), str(first)]
    assert ids(q="boiler") == [str(first)]
    assert ids(q="%") == []  # a wildcard is matched literally
    page = staff.get(ADMIN, params={"limit": 1, "offset": 1}).json()
    assert [r["id"] for r in page["items"]] == [str(first)] and page["total"] == 2


def test_client_cannot_list_admin_requests(tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["client"]).get(ADMIN)
    assert response.status_code == 403 and code(response) == "role_required"


def test_list_of_a_never_shows_requests_of_b_even_filtered_by_a_client_of_b(
    world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    admin = sign_in(tenant_a["admin"])
    listed = [r["id"] for r in admin.get(ADMIN, params={"limit": 200}).json()["items"]]
    assert str(world["req_a"]) in listed and str(world["req_b"]) not in listed
    filtered = admin.get(ADMIN, params={"client_id": str(tenant_b["client"].user_id)})
    assert filtered.status_code == 200 and filtered.json()["total"] == 0


def test_list_rejects_an_unknown_status_filter(tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["staff"]).get(ADMIN, params={"status": "lost"})
    assert response.status_code == 422


# --- admin: get ----------------------------------------------------------------------


def test_staff_gets_a_request(world: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["staff"]).get(f"{ADMIN}/{world['req_a']}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(world["req_a"]) and body["status"] == "submitted"
    assert "tenant_id" not in body


def test_client_cannot_get_a_request_through_admin(world: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["client"]).get(f"{ADMIN}/{world['req_a']}")
    assert response.status_code == 403 and code(response) == "role_required"


def test_admin_of_a_cannot_get_a_request_of_b(world: Any, tenant_a: Any, sign_in: Any) -> None:
    admin = sign_in(tenant_a["admin"])
    theirs = admin.get(f"{ADMIN}/{world['req_b']}")
    nowhere = admin.get(f"{ADMIN}/{uuid.uuid4()}")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["error"]["message"] == nowhere.json()["error"]["message"]
    assert code(theirs) == "not_found"


def test_get_with_a_malformed_id_is_422(tenant_a: Any, sign_in: Any) -> None:
    assert sign_in(tenant_a["staff"]).get(f"{ADMIN}/not-a-uuid").status_code == 422


# --- admin: create -------------------------------------------------------------------


def test_admin_files_a_request_for_a_client(db: Any, tenant_a: Any, sign_in: Any) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    response = sign_in(tenant_a["admin"]).post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(svc),
            "title": "  Gutter cleaning ",
            "priority": "high",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "submitted" and body["priority"] == "high"
    assert body["title"] == "Gutter cleaning"
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a + 1


def test_client_cannot_file_through_admin(db: Any, tenant_a: Any, sign_in: Any) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    response = sign_in(tenant_a["client"]).post(
        ADMIN,
        json={"client_id": str(tenant_a["client"].user_id), "service_id": str(svc), "title": "x"},
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a


def test_admin_of_a_cannot_file_for_a_client_or_service_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    before_b = snapshot(db, tenant_b.id)
    admin = sign_in(tenant_a["admin"])
    foreign_client = admin.post(
        ADMIN,
        json={
            "client_id": str(tenant_b["client"].user_id),
            "service_id": str(world["svc_a"]),
            "title": "x",
        },
    )
    assert foreign_client.status_code == 422 and code(foreign_client) == "unknown_client"
    foreign_service = admin.post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(world["svc_b"]),
            "title": "x",
        },
    )
    assert foreign_service.status_code == 422 and code(foreign_service) == "unknown_service"
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a
    assert snapshot(db, tenant_b.id) == before_b


def test_a_staff_member_is_not_a_client_to_file_for(db: Any, tenant_a: Any, sign_in: Any) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    response = sign_in(tenant_a["admin"]).post(
        ADMIN,
        json={"client_id": str(tenant_a["staff"].user_id), "service_id": str(svc), "title": "x"},
    )
    assert response.status_code == 422 and code(response) == "unknown_client"
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a


@pytest.mark.parametrize(
    "change",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"priority": "whenever"},
        {"tenant_id": "00000000-0000-0000-0000-000000000000"},
        {"client_id": "nope"},
    ],
)
def test_create_with_invalid_input_is_422_and_stores_nothing(
    db: Any, tenant_a: Any, sign_in: Any, change: dict[str, Any]
) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    body = {"client_id": str(tenant_a["client"].user_id), "service_id": str(svc), "title": "ok"}
    response = sign_in(tenant_a["admin"]).post(ADMIN, json={**body, **change})
    assert response.status_code == 422 and code(response) == "validation_error"
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a


# --- admin: triage (PATCH) -----------------------------------------------------------


def test_staff_triages_a_request(world: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["staff"]).patch(
        f"{ADMIN}/{world['req_a']}", json={"priority": "urgent", "title": "Leak, urgent"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["priority"] == "urgent"
    assert response.json()["title"] == "Leak, urgent"
    assert response.json()["status"] == "submitted"


def test_client_cannot_triage(db: Any, world: Any, tenant_a: Any, sign_in: Any) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).patch(
        f"{ADMIN}/{world['req_a']}", json={"priority": "urgent"}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


def test_staff_of_a_cannot_triage_a_request_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_b = snapshot(db, tenant_b.id)
    response = sign_in(tenant_a["staff"]).patch(
        f"{ADMIN}/{world['req_b']}", json={"priority": "urgent"}
    )
    assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize("body", [{}, {"priority": "meh"}, {"title": ""}, {"status": "done"}])
def test_triage_with_invalid_input_is_422(
    db: Any, world: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["staff"]).patch(f"{ADMIN}/{world['req_a']}", json=body)
    assert response.status_code == 422
    assert snapshot(db, tenant_a.id) == before


def test_a_closed_request_cannot_be_triaged(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    done = make_request(
        db, tenant_a.id, client_id=tenant_a["client"].user_id, service_id=svc, status="completed"
    )
    response = sign_in(tenant_a["staff"]).patch(f"{ADMIN}/{done}", json={"priority": "low"})
    assert response.status_code == 409 and code(response) == "record_closed"


# --- admin: assign -------------------------------------------------------------------


def test_staff_assigns_a_request_which_becomes_assigned(
    world: Any, tenant_a: Any, sign_in: Any
) -> None:
    response = sign_in(tenant_a["admin"]).post(
        f"{ADMIN}/{world['req_a']}/assign", json={"assignee_id": str(tenant_a["staff"].user_id)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] == str(tenant_a["staff"].user_id)
    assert response.json()["status"] == "assigned"


def test_client_cannot_assign(db: Any, world: Any, tenant_a: Any, sign_in: Any) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).post(
        f"{ADMIN}/{world['req_a']}/assign", json={"assignee_id": str(tenant_a["staff"].user_id)}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


def test_admin_of_a_cannot_assign_a_request_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_b = snapshot(db, tenant_b.id)
    response = sign_in(tenant_a["admin"]).post(
        f"{ADMIN}/{world['req_b']}/assign", json={"assignee_id": str(tenant_a["staff"].user_id)}
    )
    assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_b.id) == before_b


def test_admin_of_a_cannot_assign_to_staff_of_b_or_to_a_client(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before = snapshot(db, tenant_a.id)
    admin = sign_in(tenant_a["admin"])
    for assignee in (tenant_b["staff"].user_id, tenant_a["client"].user_id, uuid.uuid4()):
        response = admin.post(
            f"{ADMIN}/{world['req_a']}/assign", json={"assignee_id": str(assignee)}
        )
        assert response.status_code == 422 and code(response) == "unknown_assignee"
    assert admin.post(f"{ADMIN}/{world['req_a']}/assign", json={}).status_code == 422
    assert snapshot(db, tenant_a.id) == before


# --- admin: status -------------------------------------------------------------------


def test_a_request_walks_the_whole_status_path(world: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    url = f"{ADMIN}/{world['req_a']}"
    assert staff.post(f"{url}/status", json={"status": "triaged"}).json()["status"] == "triaged"
    needs = staff.post(f"{url}/status", json={"status": "assigned"})
    assert needs.status_code == 409 and code(needs) == "assignee_required"
    staff.post(f"{url}/assign", json={"assignee_id": str(tenant_a["staff"].user_id)})
    for step in ("in_progress", "completed"):
        response = staff.post(f"{url}/status", json={"status": step})
        assert response.status_code == 200, response.text
        assert response.json()["status"] == step
    again = staff.post(f"{url}/status", json={"status": "cancelled"})
    assert again.status_code == 409 and code(again) == "invalid_transition"


@pytest.mark.parametrize(
    ("start", "to"),
    [
        ("submitted", "in_progress"),
        ("submitted", "completed"),
        ("triaged", "submitted"),
        ("in_progress", "assigned"),
        ("cancelled", "triaged"),
        ("completed", "in_progress"),
    ],
)
def test_status_refuses_steps_off_the_path(
    db: Any, tenant_a: Any, sign_in: Any, start: str, to: str
) -> None:
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    rid = make_request(
        db,
        tenant_a.id,
        client_id=tenant_a["client"].user_id,
        service_id=svc,
        status=start,
        assignee_id=tenant_a["staff"].user_id,
    )
    response = sign_in(tenant_a["staff"]).post(f"{ADMIN}/{rid}/status", json={"status": to})
    assert response.status_code == 409 and code(response) == "invalid_transition"


def test_any_open_request_can_be_cancelled(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    staff = sign_in(tenant_a["staff"])
    for start in ("submitted", "triaged", "assigned", "in_progress"):
        rid = make_request(
            db,
            tenant_a.id,
            client_id=tenant_a["client"].user_id,
            service_id=svc,
            status=start,
            assignee_id=tenant_a["staff"].user_id,
        )
        response = staff.post(f"{ADMIN}/{rid}/status", json={"status": "cancelled"})
        assert response.json()["status"] == "cancelled", start


def test_client_cannot_change_status(db: Any, world: Any, tenant_a: Any, sign_in: Any) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).post(
        f"{ADMIN}/{world['req_a']}/status", json={"status": "triaged"}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


def test_staff_of_a_cannot_change_status_of_a_request_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_b = snapshot(db, tenant_b.id)
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{world['req_b']}/status", json={"status": "cancelled"}
    )
    assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_b.id) == before_b


def test_status_with_an_unknown_value_is_422(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{world['req_a']}/status", json={"status": "archived"}
    )
    assert response.status_code == 422
    assert snapshot(db, tenant_a.id) == before


# --- admin: convert to booking -------------------------------------------------------


def test_staff_converts_a_request_into_a_booking_once(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    bookings_a = count_rows(db, tenant_a.id, Booking)
    staff = sign_in(tenant_a["staff"])
    starts = soon(days=4)
    url = f"{ADMIN}/{world['req_a']}/convert-to-booking"
    response = staff.post(
        url,
        json={"starts_at": starts.isoformat(), "assignee_id": str(tenant_a["staff"].user_id)},
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["service_request_id"] == str(world["req_a"])
    assert booking["client_id"] == str(tenant_a["client"].user_id)
    assert booking["status"] == "pending"
    ends = datetime.fromisoformat(booking["ends_at"])
    assert ends - datetime.fromisoformat(booking["starts_at"]) == timedelta(minutes=90)
    request = staff.get(f"{ADMIN}/{world['req_a']}").json()
    assert request["status"] == "assigned"
    assert request["assignee_id"] == str(tenant_a["staff"].user_id)

    again = staff.post(url, json={"starts_at": soon(days=5).isoformat()})
    assert again.status_code == 409 and code(again) == "already_converted"
    assert count_rows(db, tenant_a.id, Booking) == bookings_a + 1


def test_without_an_assignee_the_converted_request_keeps_its_status(
    world: Any, tenant_a: Any, sign_in: Any
) -> None:
    staff = sign_in(tenant_a["staff"])
    response = staff.post(
        f"{ADMIN}/{world['req_a']}/convert-to-booking",
        json={"starts_at": soon().isoformat(), "ends_at": soon(hour=11).isoformat()},
    )
    assert response.status_code == 201, response.text
    assert response.json()["assignee_id"] is None
    assert staff.get(f"{ADMIN}/{world['req_a']}").json()["status"] == "submitted"


def test_a_cancelled_request_cannot_be_converted(db: Any, tenant_a: Any, sign_in: Any) -> None:
    bookings_a = count_rows(db, tenant_a.id, Booking)
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    rid = make_request(
        db, tenant_a.id, client_id=tenant_a["client"].user_id, service_id=svc, status="cancelled"
    )
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{rid}/convert-to-booking", json={"starts_at": soon().isoformat()}
    )
    assert response.status_code == 409 and code(response) == "record_closed"
    assert count_rows(db, tenant_a.id, Booking) == bookings_a


def test_conversion_refuses_a_slot_the_assignee_already_holds(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    bookings_a = count_rows(db, tenant_a.id, Booking)
    staff_id = tenant_a["staff"].user_id
    with tenant_context(TenantContext(tenant_id=tenant_a.id)), db.session() as s:
        s.add(
            Booking(
                client_id=tenant_a["client"].user_id,
                service_id=world["svc_a"],
                assignee_id=staff_id,
                starts_at=soon(days=6, hour=9),
                ends_at=soon(days=6, hour=11),
                status="confirmed",
            )
        )
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{world['req_a']}/convert-to-booking",
        json={"starts_at": soon(days=6, hour=10).isoformat(), "assignee_id": str(staff_id)},
    )
    assert response.status_code == 422 and code(response) == "slot_taken"
    assert count_rows(db, tenant_a.id, Booking) == bookings_a + 1


def test_client_cannot_convert(db: Any, world: Any, tenant_a: Any, sign_in: Any) -> None:
    bookings_a = count_rows(db, tenant_a.id, Booking)
    response = sign_in(tenant_a["client"]).post(
        f"{ADMIN}/{world['req_a']}/convert-to-booking", json={"starts_at": soon().isoformat()}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert count_rows(db, tenant_a.id, Booking) == bookings_a


def test_staff_of_a_cannot_convert_a_request_of_b_nor_book_staff_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    bookings_a = count_rows(db, tenant_a.id, Booking)
    before_b = snapshot(db, tenant_b.id)
    staff = sign_in(tenant_a["staff"])
    theirs = staff.post(
        f"{ADMIN}/{world['req_b']}/convert-to-booking", json={"starts_at": soon().isoformat()}
    )
    assert theirs.status_code == 404 and code(theirs) == "not_found"
    foreign_assignee = staff.post(
        f"{ADMIN}/{world['req_a']}/convert-to-booking",
        json={"starts_at": soon().isoformat(), "assignee_id": str(tenant_b["staff"].user_id)},
    )
    assert foreign_assignee.status_code == 422 and code(foreign_assignee) == "unknown_assignee"
    assert count_rows(db, tenant_a.id, Booking) == bookings_a
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"starts_at": "2031-01-01T10:00:00"},  # no time zone
        {"starts_at": "2031-01-01T10:00:00Z", "ends_at": "2031-01-01T09:00:00Z"},
        {"starts_at": "2031-01-01T10:00:00Z", "tenant_id": str(uuid.uuid4())},
    ],
)
def test_convert_with_invalid_input_is_422_and_books_nothing(
    db: Any, world: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    bookings_a = count_rows(db, tenant_a.id, Booking)
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{world['req_a']}/convert-to-booking", json=body
    )
    assert response.status_code == 422
    assert count_rows(db, tenant_a.id, Booking) == bookings_a


# --- portal --------------------------------------------------------------------------


def test_client_files_a_request_for_an_active_service(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    response = sign_in(tenant_a["client"]).post(
        PORTAL, json={"service_id": str(svc), "title": "Smells of gas", "description": "Kitchen"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == str(tenant_a["client"].user_id)
    assert body["status"] == "submitted" and body["priority"] == "normal"


def test_client_cannot_file_for_a_retired_service_or_a_service_of_b(
    db: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    requests_b = count_rows(db, tenant_b.id, ServiceRequest)
    retired = make_service(db, tenant_a.id, active=False, **BOILER_CHECK)
    theirs = make_service(db, tenant_b.id, **BOILER_CHECK)
    client = sign_in(tenant_a["client"])
    for svc in (retired, theirs, uuid.uuid4()):
        response = client.post(PORTAL, json={"service_id": str(svc), "title": "x"})
        assert response.status_code == 422 and code(response) == "unknown_service"
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a
    assert count_rows(db, tenant_b.id, ServiceRequest) == requests_b


def test_staff_cannot_use_the_portal(world: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    for response in (
        staff.get(PORTAL),
        staff.get(f"{PORTAL}/{world['req_a']}"),
        staff.post(PORTAL, json={"service_id": str(world["svc_a"]), "title": "x"}),
        staff.post(f"{PORTAL}/{world['req_a']}/cancel"),
    ):
        assert response.status_code == 403 and code(response) == "role_required"


@pytest.mark.parametrize(
    "change",
    [{"title": ""}, {"client_id": str(uuid.uuid4())}, {"tenant_id": str(uuid.uuid4())}],
)
def test_portal_create_with_invalid_input_is_422_and_stores_nothing(
    db: Any, tenant_a: Any, sign_in: Any, change: dict[str, Any]
) -> None:
    requests_a = count_rows(db, tenant_a.id, ServiceRequest)
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    response = sign_in(tenant_a["client"]).post(
        PORTAL, json={"service_id": str(svc), "title": "ok", **change}
    )
    assert response.status_code == 422
    assert count_rows(db, tenant_a.id, ServiceRequest) == requests_a


def test_a_client_lists_and_gets_only_their_own_requests(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    other = add_client(db, tenant_a)
    others = make_request(db, tenant_a.id, client_id=other.user_id, service_id=world["svc_a"])
    client = sign_in(tenant_a["client"])
    listed = client.get(PORTAL, params={"limit": 200}).json()["items"]
    assert str(world["req_a"]) in [r["id"] for r in listed]
    assert {r["client_id"] for r in listed} == {str(tenant_a["client"].user_id)}
    assert client.get(f"{PORTAL}/{world['req_a']}").status_code == 200
    hidden = client.get(f"{PORTAL}/{others}")
    assert hidden.status_code == 404 and code(hidden) == "not_found"
    foreign = client.get(f"{PORTAL}/{world['req_b']}")
    assert foreign.status_code == 404 and code(foreign) == "not_found"


def test_a_client_cancels_their_own_open_request(world: Any, tenant_a: Any, sign_in: Any) -> None:
    client = sign_in(tenant_a["client"])
    response = client.post(f"{PORTAL}/{world['req_a']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    again = client.post(f"{PORTAL}/{world['req_a']}/cancel")
    assert again.status_code == 409 and code(again) == "invalid_transition"


def test_a_client_cannot_cancel_a_request_of_another_client_or_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    other = add_client(db, tenant_a)
    others = make_request(db, tenant_a.id, client_id=other.user_id, service_id=world["svc_a"])
    before_a, before_b = snapshot(db, tenant_a.id), snapshot(db, tenant_b.id)
    client = sign_in(tenant_a["client"])
    for rid in (others, world["req_b"]):
        response = client.post(f"{PORTAL}/{rid}/cancel")
        assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_a.id) == before_a
    assert snapshot(db, tenant_b.id) == before_b


def test_nul_characters_are_refused_with_422_not_stored(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    svc = make_service(db, tenant_a.id, **BOILER_CHECK)
    before = count_rows(db, tenant_a.id, ServiceRequest)
    admin = sign_in(tenant_a["admin"])
    assert admin.get(ADMIN, params={"q": "a\x00b"}).status_code == 422
    response = admin.post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(svc),
            "title": "a\u0000b",
        },
    )
    assert response.status_code == 422 and code(response) == "validation_error"
    assert count_rows(db, tenant_a.id, ServiceRequest) == before

"""Bookings over HTTP: admin (/api/admin/bookings) and portal (/api/portal/bookings)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.bookings.models import Booking
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenant_settings.models import BookingSettings
from tenantry.tenants.lifecycle import add_member
from tests.factories import (
    TenantFixture,
    add_client,
    count_rows,
    make_service,
    make_tenant,
    make_user,
)
from tests.helpers import code, login

ADMIN = "/api/admin/bookings"
PORTAL = "/api/portal/bookings"


def new_day(ahead: int = 2) -> datetime:
    """Midnight ``ahead`` days from now. The same day for every test: only an assignee's
    bookings can clash, and a test that books an assignee in the module's shared tenants
    books one of its own (``own_assignee``), so no test depends on another's bookings or
    on the order tests run in."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=ahead)


def own_assignee(db: Any, tenant: TenantFixture) -> uuid.UUID:
    """A staff member of ``tenant`` whom no other test books."""
    member = make_user(db)
    add_member(db, tenant_id=tenant.id, user_id=member.user_id, role="staff")
    return member.user_id


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day + timedelta(hours=hour, minutes=minute)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def make_booking(
    db: Any,
    tenant_id: uuid.UUID,
    *,
    client_id: uuid.UUID,
    service_id: uuid.UUID,
    starts_at: datetime,
    minutes: int = 60,
    status: str = "pending",
    assignee_id: uuid.UUID | None = None,
) -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        row = Booking(
            client_id=client_id,
            service_id=service_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            status=status,
            assignee_id=assignee_id,
        )
        s.add(row)
        s.flush()
        return row.id


def snapshot(db: Any, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        rows = s.execute(
            select(
                Booking.id,
                Booking.status,
                Booking.starts_at,
                Booking.ends_at,
                Booking.notes,
                Booking.updated_at,
            ).order_by(Booking.id)
        ).all()
    return [tuple(r) for r in rows]


# Password hashing is slow on purpose and the machine is shared: the two tenants and
# their signed-in clients live for the module; tests compare before and after.
@pytest.fixture(scope="module")
def tenant_a(db: Any) -> Any:
    return make_tenant(db)


@pytest.fixture(scope="module")
def tenant_b(db: Any) -> Any:
    return make_tenant(db)


@pytest.fixture
def world(db: Any, tenant_a: Any, tenant_b: Any) -> dict[str, Any]:
    """A service and a pending booking (no assignee) in each tenant, two days ahead."""
    day = new_day()
    svc_a = make_service(db, tenant_a.id)
    svc_b = make_service(db, tenant_b.id)
    bk_a = make_booking(
        db,
        tenant_a.id,
        client_id=tenant_a["client"].user_id,
        service_id=svc_a,
        starts_at=at(day, 9),
    )
    bk_b = make_booking(
        db,
        tenant_b.id,
        client_id=tenant_b["client"].user_id,
        service_id=svc_b,
        starts_at=at(day, 9),
    )
    return {"day": day, "svc_a": svc_a, "svc_b": svc_b, "bk_a": bk_a, "bk_b": bk_b}


# --- admin: list ---------------------------------------------------------------------


def test_staff_lists_bookings_soonest_first_with_filters(db: Any, app: Any) -> None:
    tenant = make_tenant(db, roles=("staff", "client"))
    client_id, staff_id = tenant["client"].user_id, tenant["staff"].user_id
    svc, other_svc = make_service(db, tenant.id), make_service(db, tenant.id)
    day = new_day()
    late = make_booking(
        db,
        tenant.id,
        client_id=client_id,
        service_id=svc,
        starts_at=at(day, 15),
        status="confirmed",
    )
    early = make_booking(
        db,
        tenant.id,
        client_id=client_id,
        service_id=other_svc,
        starts_at=at(day, 8),
        assignee_id=staff_id,
    )
    staff = TestClient(app)
    login(staff, tenant["staff"])

    def ids(**params: Any) -> list[str]:
        response = staff.get(ADMIN, params=params)
        assert response.status_code == 200, response.text
        return [b["id"] for b in response.json()["items"]]

    assert ids() == [str(early), str(late)]
    assert ids(status="confirmed") == [str(late)]
    assert ids(**{"from": iso(at(day, 12))}) == [str(late)]
    assert ids(to=iso(at(day, 12))) == [str(early)]
    assert ids(client_id=str(client_id)) == [str(early), str(late)]
    assert ids(assignee_id=str(staff_id)) == [str(early)]
    assert ids(service_id=str(svc)) == [str(late)]
    page = staff.get(ADMIN, params={"limit": 1, "offset": 1}).json()
    assert [b["id"] for b in page["items"]] == [str(late)] and page["total"] == 2
    staff.close()


def test_client_cannot_list_admin_bookings(tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["client"]).get(ADMIN)
    assert response.status_code == 403 and code(response) == "role_required"


def test_list_of_a_never_shows_bookings_of_b_even_filtered_by_ids_of_b(
    world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    staff = sign_in(tenant_a["staff"])
    day = {"from": iso(world["day"]), "to": iso(world["day"] + timedelta(days=1))}
    listed = [b["id"] for b in staff.get(ADMIN, params=day).json()["items"]]
    assert listed == [str(world["bk_a"])]
    for key, value in (
        ("client_id", tenant_b["client"].user_id),
        ("service_id", world["svc_b"]),
        ("assignee_id", tenant_b["staff"].user_id),
    ):
        response = staff.get(ADMIN, params={key: str(value)})
        assert response.status_code == 200 and response.json()["total"] == 0


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"from": "2030-01-01T00:00:00"}, {"client_id": "x"}]
)
def test_list_with_invalid_filters_is_422(
    tenant_a: Any, sign_in: Any, params: dict[str, str]
) -> None:
    assert sign_in(tenant_a["staff"]).get(ADMIN, params=params).status_code == 422


# --- admin: stats and pending count --------------------------------------------------


def test_stats_count_by_status_upcoming_and_revenue_for_this_tenant_only(
    db: Any, app: Any, tenant_b: Any
) -> None:
    tenant = make_tenant(db, roles=("staff", "client"))
    client_id = tenant["client"].user_id
    cheap, dear = make_service(db, tenant.id, price=1000), make_service(db, tenant.id, price=7000)
    now = datetime.now(UTC)
    make_booking(
        db, tenant.id, client_id=client_id, service_id=cheap, starts_at=now + timedelta(days=1)
    )
    make_booking(
        db,
        tenant.id,
        client_id=client_id,
        service_id=dear,
        starts_at=now + timedelta(days=2),
        status="confirmed",
    )
    make_booking(
        db,
        tenant.id,
        client_id=client_id,
        service_id=dear,
        starts_at=now - timedelta(days=2),
        status="completed",
    )
    make_booking(
        db,
        tenant.id,
        client_id=client_id,
        service_id=dear,
        starts_at=now + timedelta(days=3),
        status="cancelled",
    )
    make_booking(
        db, tenant.id, client_id=client_id, service_id=cheap, starts_at=now + timedelta(days=20)
    )
    # Tenant B's bookings never count for this tenant.
    svc_b = make_service(db, tenant_b.id, price=99_999)
    make_booking(
        db,
        tenant_b.id,
        client_id=tenant_b["client"].user_id,
        service_id=svc_b,
        starts_at=now + timedelta(days=1),
    )
    staff = TestClient(app)
    login(staff, tenant["staff"])

    stats = staff.get(f"{ADMIN}/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "by_status": {"pending": 2, "confirmed": 1, "cancelled": 1, "completed": 1},
        "upcoming_7_days": 2,
        "estimated_revenue_cents": 1000 + 7000 + 7000 + 1000,
        "completed_revenue_cents": 7000,
    }
    assert staff.get(f"{ADMIN}/pending-count").json() == {"pending": 2}

    # A write through the API invalidates the cached figures at once.
    created = staff.post(
        ADMIN,
        json={
            "client_id": str(client_id),
            "service_id": str(cheap),
            "starts_at": iso((now + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)),
        },
    )
    assert created.status_code == 201, created.text
    assert staff.get(f"{ADMIN}/pending-count").json() == {"pending": 3}
    assert staff.get(f"{ADMIN}/stats").json()["upcoming_7_days"] == 3
    staff.close()


def test_client_cannot_read_stats_or_pending_count(tenant_a: Any, sign_in: Any) -> None:
    client = sign_in(tenant_a["client"])
    for path in ("/stats", "/pending-count"):
        response = client.get(f"{ADMIN}{path}")
        assert response.status_code == 403 and code(response) == "role_required"


# --- admin: get ----------------------------------------------------------------------


def test_staff_gets_a_booking(world: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["staff"]).get(f"{ADMIN}/{world['bk_a']}")
    assert response.status_code == 200
    assert response.json()["id"] == str(world["bk_a"]) and "tenant_id" not in response.json()


def test_client_cannot_get_a_booking_through_admin(world: Any, tenant_a: Any, sign_in: Any) -> None:
    response = sign_in(tenant_a["client"]).get(f"{ADMIN}/{world['bk_a']}")
    assert response.status_code == 403 and code(response) == "role_required"


def test_staff_of_a_cannot_get_a_booking_of_b(world: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    theirs, nowhere = staff.get(f"{ADMIN}/{world['bk_b']}"), staff.get(f"{ADMIN}/{uuid.uuid4()}")
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json()["error"]["message"] == nowhere.json()["error"]["message"]
    assert staff.get(f"{ADMIN}/not-a-uuid").status_code == 422


# --- admin: create -------------------------------------------------------------------


def test_staff_books_a_client_and_the_end_defaults_to_the_service_duration(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    svc = make_service(db, tenant_a.id, minutes=45)
    start, assignee = at(new_day(), 10), own_assignee(db, tenant_a)
    response = sign_in(tenant_a["staff"]).post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(svc),
            "starts_at": iso(start),
            "assignee_id": str(assignee),
            "status": "confirmed",
            "notes": "Side gate code 1234",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert datetime.fromisoformat(body["ends_at"]) == start + timedelta(minutes=45)
    assert body["status"] == "confirmed" and body["assignee_id"] == str(assignee)


def test_an_assignee_cannot_be_double_booked(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id)
    day = new_day()
    staff_id = own_assignee(db, tenant_a)
    make_booking(
        db,
        tenant_a.id,
        client_id=tenant_a["client"].user_id,
        service_id=svc,
        starts_at=at(day, 10),
        assignee_id=staff_id,
    )
    before = count_rows(db, tenant_a.id, Booking)
    staff = sign_in(tenant_a["staff"])

    def book(hour: int, minute: int = 0) -> Any:
        return staff.post(
            ADMIN,
            json={
                "client_id": str(tenant_a["client"].user_id),
                "service_id": str(svc),
                "starts_at": iso(at(day, hour, minute)),
                "assignee_id": str(staff_id),
            },
        )

    clash = book(10, 30)
    assert clash.status_code == 422 and code(clash) == "slot_taken"
    assert count_rows(db, tenant_a.id, Booking) == before
    assert book(11).status_code == 201  # back to back is fine


def test_client_cannot_create_through_admin(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id)
    before = count_rows(db, tenant_a.id, Booking)
    response = sign_in(tenant_a["client"]).post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(svc),
            "starts_at": iso(at(new_day(), 10)),
        },
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert count_rows(db, tenant_a.id, Booking) == before


def test_staff_of_a_cannot_book_a_client_service_or_assignee_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_a, before_b = count_rows(db, tenant_a.id, Booking), snapshot(db, tenant_b.id)
    retired = make_service(db, tenant_a.id, active=False)
    good = {
        "client_id": str(tenant_a["client"].user_id),
        "service_id": str(world["svc_a"]),
        "starts_at": iso(at(world["day"], 14)),
    }
    staff = sign_in(tenant_a["staff"])
    for change, expected in (
        ({"client_id": str(tenant_b["client"].user_id)}, "unknown_client"),
        ({"client_id": str(tenant_a["staff"].user_id)}, "unknown_client"),
        ({"service_id": str(world["svc_b"])}, "unknown_service"),
        ({"service_id": str(retired)}, "unknown_service"),
        ({"assignee_id": str(tenant_b["staff"].user_id)}, "unknown_assignee"),
        ({"assignee_id": str(tenant_a["client"].user_id)}, "unknown_assignee"),
    ):
        response = staff.post(ADMIN, json={**good, **change})
        assert response.status_code == 422 and code(response) == expected, change
    assert count_rows(db, tenant_a.id, Booking) == before_a
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize(
    "change",
    [
        {"starts_at": "2031-01-01T10:00:00"},
        {"ends_at": "2020-01-01T10:00:00Z"},
        {"status": "completed"},
        {"tenant_id": str(uuid.uuid4())},
        {"notes": "x" * 10_001},
    ],
)
def test_create_with_invalid_input_is_422_and_stores_nothing(
    db: Any, tenant_a: Any, sign_in: Any, change: dict[str, Any]
) -> None:
    svc = make_service(db, tenant_a.id)
    before = count_rows(db, tenant_a.id, Booking)
    body = {
        "client_id": str(tenant_a["client"].user_id),
        "service_id": str(svc),
        "starts_at": "2031-01-01T10:00:00Z",
    }
    response = sign_in(tenant_a["staff"]).post(ADMIN, json={**body, **change})
    assert response.status_code == 422
    assert count_rows(db, tenant_a.id, Booking) == before


# --- admin: reschedule ---------------------------------------------------------------


def test_staff_reschedules_a_booking_keeping_its_length(
    world: Any, tenant_a: Any, sign_in: Any
) -> None:
    staff = sign_in(tenant_a["staff"])
    start = at(world["day"], 13)
    response = staff.post(f"{ADMIN}/{world['bk_a']}/reschedule", json={"starts_at": iso(start)})
    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["starts_at"]) == start
    assert datetime.fromisoformat(response.json()["ends_at"]) == start + timedelta(hours=1)
    longer = staff.post(
        f"{ADMIN}/{world['bk_a']}/reschedule",
        json={"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=3))},
    )
    assert datetime.fromisoformat(longer.json()["ends_at"]) == start + timedelta(hours=3)


def test_rescheduling_onto_the_assignees_other_booking_is_slot_taken(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    svc = make_service(db, tenant_a.id)
    day, staff_id = new_day(), own_assignee(db, tenant_a)
    kw = {"client_id": tenant_a["client"].user_id, "service_id": svc, "assignee_id": staff_id}
    make_booking(db, tenant_a.id, starts_at=at(day, 9), **kw)
    moving = make_booking(db, tenant_a.id, starts_at=at(day, 14), **kw)
    before = snapshot(db, tenant_a.id)
    staff = sign_in(tenant_a["staff"])
    clash = staff.post(f"{ADMIN}/{moving}/reschedule", json={"starts_at": iso(at(day, 9, 30))})
    assert clash.status_code == 422 and code(clash) == "slot_taken"
    assert snapshot(db, tenant_a.id) == before
    # Moving within its own slot never clashes with itself.
    ok = staff.post(f"{ADMIN}/{moving}/reschedule", json={"starts_at": iso(at(day, 14, 30))})
    assert ok.status_code == 200


def test_a_cancelled_booking_cannot_be_rescheduled(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id)
    bid = make_booking(
        db,
        tenant_a.id,
        client_id=tenant_a["client"].user_id,
        service_id=svc,
        starts_at=at(new_day(), 9),
        status="cancelled",
    )
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{bid}/reschedule", json={"starts_at": iso(at(new_day(), 9))}
    )
    assert response.status_code == 409 and code(response) == "record_closed"


def test_client_cannot_reschedule_through_admin(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).post(
        f"{ADMIN}/{world['bk_a']}/reschedule", json={"starts_at": iso(at(world["day"], 15))}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


def test_staff_of_a_cannot_reschedule_a_booking_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    before_b = snapshot(db, tenant_b.id)
    response = sign_in(tenant_a["staff"]).post(
        f"{ADMIN}/{world['bk_b']}/reschedule", json={"starts_at": iso(at(world["day"], 15))}
    )
    assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"starts_at": "2031-01-01T10:00:00"},
        {"starts_at": "2031-01-01T10:00:00Z", "ends_at": "2031-01-01T10:00:00Z"},
    ],
)
def test_reschedule_with_invalid_input_is_422(
    db: Any, world: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["staff"]).post(f"{ADMIN}/{world['bk_a']}/reschedule", json=body)
    assert response.status_code == 422
    assert snapshot(db, tenant_a.id) == before


# --- admin: cancel, confirm, complete -------------------------------------------------


def test_staff_cancels_a_booking_with_a_reason(world: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    url = f"{ADMIN}/{world['bk_a']}/cancel"
    response = staff.post(url, json={"reason": "Client is ill"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert "Client is ill" in response.json()["notes"]
    again = staff.post(url, json={"reason": "twice"})
    assert again.status_code == 409 and code(again) == "invalid_transition"


def test_confirm_then_complete_and_no_shortcut(world: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    url = f"{ADMIN}/{world['bk_a']}"
    early = staff.post(f"{url}/complete")
    assert early.status_code == 409 and code(early) == "invalid_transition"
    assert staff.post(f"{url}/confirm").json()["status"] == "confirmed"
    twice = staff.post(f"{url}/confirm")
    assert twice.status_code == 409 and code(twice) == "invalid_transition"
    assert staff.post(f"{url}/complete").json()["status"] == "completed"
    late = staff.post(f"{url}/cancel", json={"reason": "too late"})
    assert late.status_code == 409 and code(late) == "invalid_transition"


@pytest.mark.parametrize("action", ["cancel", "confirm", "complete"])
def test_client_cannot_change_a_booking_through_admin(
    db: Any, world: Any, tenant_a: Any, sign_in: Any, action: str
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).post(
        f"{ADMIN}/{world['bk_a']}/{action}", json={"reason": "x"}
    )
    assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, tenant_a.id) == before


@pytest.mark.parametrize("action", ["cancel", "confirm", "complete"])
def test_staff_of_a_cannot_change_a_booking_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any, action: str
) -> None:
    before_b = snapshot(db, tenant_b.id)
    kwargs = {"json": {"reason": "x"}} if action == "cancel" else {}
    response = sign_in(tenant_a["admin"]).post(f"{ADMIN}/{world['bk_b']}/{action}", **kwargs)
    assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 501}])
def test_cancel_needs_a_reason(
    db: Any, world: Any, tenant_a: Any, sign_in: Any, body: dict[str, Any]
) -> None:
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["staff"]).post(f"{ADMIN}/{world['bk_a']}/cancel", json=body)
    assert response.status_code == 422
    assert snapshot(db, tenant_a.id) == before


# --- portal --------------------------------------------------------------------------


def test_a_client_lists_and_gets_only_their_own_bookings(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    other = add_client(db, tenant_a)
    others = make_booking(
        db,
        tenant_a.id,
        client_id=other.user_id,
        service_id=world["svc_a"],
        starts_at=at(world["day"], 12),
    )
    client = sign_in(tenant_a["client"])
    listed = client.get(PORTAL, params={"limit": 200}).json()["items"]
    assert str(world["bk_a"]) in [b["id"] for b in listed]
    assert {b["client_id"] for b in listed} == {str(tenant_a["client"].user_id)}
    assert client.get(f"{PORTAL}/{world['bk_a']}").status_code == 200
    for hidden in (others, world["bk_b"]):
        response = client.get(f"{PORTAL}/{hidden}")
        assert response.status_code == 404 and code(response) == "not_found"


def test_staff_cannot_use_the_booking_portal(world: Any, tenant_a: Any, sign_in: Any) -> None:
    staff = sign_in(tenant_a["staff"])
    for response in (
        staff.get(PORTAL),
        staff.get(f"{PORTAL}/{world['bk_a']}"),
        staff.post(
            PORTAL,
            json={"service_id": str(world["svc_a"]), "starts_at": iso(at(new_day(), 10))},
        ),
        staff.post(f"{PORTAL}/{world['bk_a']}/cancel"),
    ):
        assert response.status_code == 403 and code(response) == "role_required"


def test_a_client_books_an_active_service_for_themselves(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    svc = make_service(db, tenant_a.id, minutes=30)
    start = at(new_day(), 10)
    response = sign_in(tenant_a["client"]).post(
        PORTAL, json={"service_id": str(svc), "starts_at": iso(start), "notes": "Dog at home"}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == str(tenant_a["client"].user_id) and body["status"] == "pending"
    assert datetime.fromisoformat(body["ends_at"]) == start + timedelta(minutes=30)


def test_a_client_books_within_the_default_window_only(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    svc = make_service(db, tenant_a.id)
    before = count_rows(db, tenant_a.id, Booking)
    client = sign_in(tenant_a["client"])
    now = datetime.now(UTC)
    for start, rule in (
        (now + timedelta(minutes=30), "notice_too_short"),
        (now + timedelta(days=91), "too_far_ahead"),
        (now - timedelta(days=1), "booking_in_past"),
    ):
        response = client.post(PORTAL, json={"service_id": str(svc), "starts_at": iso(start)})
        assert response.status_code == 422 and code(response) == rule
    assert count_rows(db, tenant_a.id, Booking) == before


def test_a_client_books_within_the_tenants_own_settings(db: Any, app: Any) -> None:
    tenant = make_tenant(db, roles=("staff", "client"))
    svc = make_service(db, tenant.id)
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(BookingSettings(min_notice_minutes=0, max_advance_days=5))
    client = TestClient(app)
    login(client, tenant["client"])
    now = datetime.now(UTC)
    # The next start on the 30-minute grid, a minute or more away.
    next_slot = (now + timedelta(minutes=31)).replace(second=0, microsecond=0)
    next_slot -= timedelta(minutes=next_slot.minute % 30)
    soon = client.post(PORTAL, json={"service_id": str(svc), "starts_at": iso(next_slot)})
    assert soon.status_code == 201, soon.text
    far = client.post(
        PORTAL, json={"service_id": str(svc), "starts_at": iso(now + timedelta(days=6))}
    )
    assert far.status_code == 422 and code(far) == "too_far_ahead"
    client.close()


def test_a_client_cannot_book_a_retired_service_or_a_service_of_b(
    db: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    retired, theirs = make_service(db, tenant_a.id, active=False), make_service(db, tenant_b.id)
    before_a, before_b = count_rows(db, tenant_a.id, Booking), snapshot(db, tenant_b.id)
    client = sign_in(tenant_a["client"])
    for svc in (retired, theirs, uuid.uuid4()):
        response = client.post(
            PORTAL, json={"service_id": str(svc), "starts_at": iso(at(new_day(), 10))}
        )
        assert response.status_code == 422 and code(response) == "unknown_service"
    assert count_rows(db, tenant_a.id, Booking) == before_a
    assert snapshot(db, tenant_b.id) == before_b


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": str(uuid.uuid4())},
        {"tenant_id": str(uuid.uuid4())},
        {"ends_at": "2031-01-01T10:00:00Z"},
        {"starts_at": "tomorrow"},
    ],
)
def test_portal_create_with_invalid_input_is_422_and_stores_nothing(
    db: Any, tenant_a: Any, sign_in: Any, change: dict[str, Any]
) -> None:
    svc = make_service(db, tenant_a.id)
    before = count_rows(db, tenant_a.id, Booking)
    body = {"service_id": str(svc), "starts_at": iso(at(new_day(), 10)), **change}
    response = sign_in(tenant_a["client"]).post(PORTAL, json=body)
    assert response.status_code == 422
    assert count_rows(db, tenant_a.id, Booking) == before


def test_a_client_cancels_their_own_booking_in_time(
    world: Any, tenant_a: Any, sign_in: Any
) -> None:
    client = sign_in(tenant_a["client"])
    response = client.post(f"{PORTAL}/{world['bk_a']}/cancel", json={"reason": "Away"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    again = client.post(f"{PORTAL}/{world['bk_a']}/cancel")
    assert again.status_code == 409 and code(again) == "invalid_transition"


def test_a_client_cannot_cancel_within_the_notice_period(
    db: Any, tenant_a: Any, sign_in: Any
) -> None:
    svc = make_service(db, tenant_a.id)
    bid = make_booking(
        db,
        tenant_a.id,
        client_id=tenant_a["client"].user_id,
        service_id=svc,
        starts_at=datetime.now(UTC) + timedelta(hours=5),
    )
    before = snapshot(db, tenant_a.id)
    response = sign_in(tenant_a["client"]).post(f"{PORTAL}/{bid}/cancel")
    assert response.status_code == 409 and code(response) == "cancellation_too_late"
    assert snapshot(db, tenant_a.id) == before


def test_a_client_cannot_cancel_when_the_tenant_forbids_it(db: Any, app: Any) -> None:
    tenant = make_tenant(db, roles=("client",))
    svc = make_service(db, tenant.id)
    bid = make_booking(
        db,
        tenant.id,
        client_id=tenant["client"].user_id,
        service_id=svc,
        starts_at=at(new_day(), 10),
    )
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(BookingSettings(allow_client_cancellation=False))
    client = TestClient(app)
    login(client, tenant["client"])
    response = client.post(f"{PORTAL}/{bid}/cancel")
    assert response.status_code == 403 and code(response) == "cancellation_not_allowed"
    client.close()


def test_a_client_cannot_cancel_a_booking_of_another_client_or_of_b(
    db: Any, world: Any, tenant_a: Any, tenant_b: Any, sign_in: Any
) -> None:
    other = add_client(db, tenant_a)
    others = make_booking(
        db,
        tenant_a.id,
        client_id=other.user_id,
        service_id=world["svc_a"],
        starts_at=at(world["day"], 12),
    )
    before_a, before_b = snapshot(db, tenant_a.id), snapshot(db, tenant_b.id)
    client = sign_in(tenant_a["client"])
    for bid in (others, world["bk_b"]):
        response = client.post(f"{PORTAL}/{bid}/cancel", json={"reason": "mine now"})
        assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, tenant_a.id) == before_a
    assert snapshot(db, tenant_b.id) == before_b


def test_portal_cancel_with_invalid_input_is_422(
    db: Any, world: Any, tenant_a: Any, sign_in: Any
) -> None:
    before = snapshot(db, tenant_a.id)
    client = sign_in(tenant_a["client"])
    response = client.post(f"{PORTAL}/{world['bk_a']}/cancel", json={"reason": "x" * 501})
    assert response.status_code == 422
    assert client.post(f"{PORTAL}/not-a-uuid/cancel").status_code == 422
    assert snapshot(db, tenant_a.id) == before


def test_a_start_at_the_end_of_time_is_422_not_500(db: Any, tenant_a: Any, sign_in: Any) -> None:
    svc = make_service(db, tenant_a.id)
    before = count_rows(db, tenant_a.id, Booking)
    response = sign_in(tenant_a["staff"]).post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(svc),
            "starts_at": "9999-12-31T23:30:00Z",
            "notes": "x\u0000",
        },
    )
    assert response.status_code == 422
    response = sign_in(tenant_a["staff"]).post(
        ADMIN,
        json={
            "client_id": str(tenant_a["client"].user_id),
            "service_id": str(svc),
            "starts_at": "9999-12-31T23:30:00Z",
        },
    )
    assert response.status_code == 422 and code(response) == "invalid_time_range"
    assert count_rows(db, tenant_a.id, Booking) == before

"""Every booking rule, refused with a 422 naming it, for a client (portal) and through
the admin API; and availability that offers exactly the starts that would be accepted.

The tenant lives in New York (opening hours Mon-Sat 09:00-17:00 local, a 30-minute
grid, a 30-minute buffer, 2 hours' notice, 14 days ahead) with one staff member, so
"someone free" means that one person.
"""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tenantry.bookings.models import Booking
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenant_settings.models import BookingSettings
from tests.factories import TenantFixture, count_rows, make_service, make_tenant
from tests.helpers import code

ADMIN = "/api/admin/bookings"
PORTAL = "/api/portal/bookings"
NY = zoneinfo.ZoneInfo("America/New_York")
HOURS = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


@dataclass
class Shop:
    tenant: TenantFixture
    service: uuid.UUID  # 60 minutes
    day: date  # a working day 3+ days ahead, its own per test


def _working_day() -> date:
    day = datetime.now(NY).date() + timedelta(days=3)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day


@pytest.fixture
def shop(db: Any) -> Shop:
    """A tenant of its own per test (what one test books never frees or takes another's slot)."""
    tenant = make_tenant(db, roles=("owner", "staff", "client"))
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(
            BookingSettings(
                timezone="America/New_York",
                slot_minutes=30,
                buffer_minutes=30,
                min_notice_minutes=120,
                max_advance_days=14,
                business_hours=HOURS,
            )
        )
    return Shop(tenant, make_service(db, tenant.id, minutes=60), _working_day())


def local(day: date, clock: str) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=NY)


def book_as_client(sign_in: Any, shop: Shop, start: datetime) -> Any:
    return sign_in(shop.tenant["client"]).post(
        PORTAL, json={"service_id": str(shop.service), "starts_at": start.isoformat()}
    )


def book_as_staff(sign_in: Any, shop: Shop, start: datetime, *, assign: bool = True) -> Any:
    body = {
        "client_id": str(shop.tenant["client"].user_id),
        "service_id": str(shop.service),
        "starts_at": start.isoformat(),
    }
    if assign:
        body["assignee_id"] = str(shop.tenant["staff"].user_id)
    return sign_in(shop.tenant["owner"]).post(ADMIN, json=body)


def refused_everywhere(db: Any, sign_in: Any, shop: Shop, start: datetime, rule: str) -> None:
    """The portal, the admin API with and without an assignee: 422 ``rule``, nothing stored."""
    before = count_rows(db, shop.tenant.id, Booking)
    for response in (
        book_as_client(sign_in, shop, start),
        book_as_staff(sign_in, shop, start),
        book_as_staff(sign_in, shop, start, assign=False),
    ):
        assert response.status_code == 422, response.text
        assert code(response) == rule, response.text
        assert response.json()["error"]["message"]  # a sentence for people
    assert count_rows(db, shop.tenant.id, Booking) == before


def slots(sign_in: Any, shop: Shop, first: date, last: date | None = None) -> list[str]:
    params = {"service_id": str(shop.service), "from": first.isoformat()}
    if last:
        params["to"] = last.isoformat()
    response = sign_in(shop.tenant["client"]).get("/api/portal/availability", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "America/New_York"
    return [s["starts_at"] for s in body["slots"]]


# --- one test per rule ---------------------------------------------------------------------


def test_no_booking_in_the_past_not_even_by_the_owner(db: Any, sign_in: Any, shop: Shop) -> None:
    yesterday = datetime.now(NY).date() - timedelta(days=1)
    refused_everywhere(db, sign_in, shop, local(yesterday, "10:00"), "booking_in_past")


def test_minimum_notice(db: Any, sign_in: Any, shop: Shop) -> None:
    soon = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=61)
    refused_everywhere(db, sign_in, shop, soon, "notice_too_short")


def test_maximum_advance(db: Any, sign_in: Any, shop: Shop) -> None:
    far = datetime.now(NY).date() + timedelta(days=20)
    refused_everywhere(db, sign_in, shop, local(far, "10:00"), "too_far_ahead")


def test_business_hours_per_weekday(db: Any, sign_in: Any, shop: Shop) -> None:
    sunday = shop.day + timedelta(days=(6 - shop.day.weekday()) % 7 or 7)
    if (sunday - datetime.now(NY).date()).days > 13:
        sunday -= timedelta(days=7)
    refused_everywhere(db, sign_in, shop, local(sunday, "10:00"), "outside_business_hours")
    refused_everywhere(db, sign_in, shop, local(shop.day, "08:00"), "outside_business_hours")
    # Starts in hours but a 60-minute job would run past closing.
    refused_everywhere(db, sign_in, shop, local(shop.day, "16:30"), "outside_business_hours")


def test_slot_grid(db: Any, sign_in: Any, shop: Shop) -> None:
    refused_everywhere(db, sign_in, shop, local(shop.day, "10:10"), "off_slot_grid")


def test_no_overlap_for_a_staff_member(db: Any, sign_in: Any, shop: Shop) -> None:
    assert book_as_staff(sign_in, shop, local(shop.day, "10:00")).status_code == 201
    before = count_rows(db, shop.tenant.id, Booking)
    clash = book_as_staff(sign_in, shop, local(shop.day, "10:30"))
    assert clash.status_code == 422 and code(clash) == "slot_taken"
    # The only bookable person is busy: a client (or an unassigned booking) finds no one.
    for response in (
        book_as_client(sign_in, shop, local(shop.day, "10:30")),
        book_as_staff(sign_in, shop, local(shop.day, "10:30"), assign=False),
    ):
        assert response.status_code == 422 and code(response) == "no_one_available"
    assert count_rows(db, shop.tenant.id, Booking) == before


def test_buffer_between_bookings(db: Any, sign_in: Any, shop: Shop) -> None:
    assert book_as_staff(sign_in, shop, local(shop.day, "13:00")).status_code == 201
    back_to_back = book_as_staff(sign_in, shop, local(shop.day, "14:00"))
    assert back_to_back.status_code == 422 and code(back_to_back) == "within_buffer"
    assert "30 minutes" in back_to_back.json()["error"]["message"]
    client = book_as_client(sign_in, shop, local(shop.day, "14:00"))
    assert client.status_code == 422 and code(client) == "no_one_available"
    # Once the buffer is kept, the client gets the slot and the staff member the job.
    ok = book_as_client(sign_in, shop, local(shop.day, "14:30"))
    assert ok.status_code == 201, ok.text
    assert ok.json()["assignee_id"] == str(shop.tenant["staff"].user_id)


def test_rescheduling_obeys_the_same_rules(sign_in: Any, shop: Shop) -> None:
    created = book_as_staff(sign_in, shop, local(shop.day, "09:00"))
    assert created.status_code == 201, created.text
    url = f"{ADMIN}/{created.json()['id']}/reschedule"
    owner = sign_in(shop.tenant["owner"])
    for start, rule in (
        (local(shop.day, "09:15"), "off_slot_grid"),
        (local(shop.day, "17:00"), "outside_business_hours"),
        (local(datetime.now(NY).date() - timedelta(days=2), "10:00"), "booking_in_past"),
    ):
        response = owner.post(url, json={"starts_at": start.isoformat()})
        assert response.status_code == 422 and code(response) == rule, response.text
    # Moving by one slot never clashes with the booking itself.
    moved = owner.post(url, json={"starts_at": local(shop.day, "09:30").isoformat()})
    assert moved.status_code == 200, moved.text


# --- availability ------------------------------------------------------------------------


def test_availability_returns_exactly_the_free_slots_in_the_tenants_zone(
    sign_in: Any, shop: Shop
) -> None:
    assert book_as_staff(sign_in, shop, local(shop.day, "10:00")).status_code == 201
    offered = slots(sign_in, shop, shop.day)[:20]
    day_slots = [s for s in offered if s.startswith(shop.day.isoformat())]
    # 60 minutes on a 30-minute grid between 09:00 and 17:00, without what the 10:00
    # booking and its 30-minute buffer on both sides take (09:00 to 11:00 starts).
    expected = [
        local(shop.day, f"{h:02d}:{m:02d}").isoformat()
        for h in range(9, 17)
        for m in (0, 30)
        if (h, m) >= (11, 30) and (h, m) <= (16, 0)
    ]
    assert day_slots == expected


def test_a_booked_slot_disappears_and_every_offered_slot_is_accepted(
    db: Any, sign_in: Any, shop: Shop
) -> None:
    offered = slots(sign_in, shop, shop.day, shop.day)
    assert offered, "a working day has open slots"
    first = datetime.fromisoformat(offered[0])
    booked = book_as_client(sign_in, shop, first)
    assert booked.status_code == 201, booked.text
    after = slots(sign_in, shop, shop.day, shop.day)
    assert offered[0] not in after
    # Each slot still offered is accepted (checked on a sample, then undone).
    for start in after[::4]:
        response = book_as_client(sign_in, shop, datetime.fromisoformat(start))
        assert response.status_code == 201, (start, response.text)
        with tenant_context(TenantContext(tenant_id=shop.tenant.id)), db.session() as s:
            s.delete(
                s.scalar(select(Booking).where(Booking.id == uuid.UUID(response.json()["id"])))
            )


def test_availability_over_weeks_keeps_hours_grid_and_window(sign_in: Any, shop: Shop) -> None:
    today = datetime.now(NY).date()
    now = datetime.now(UTC)
    offered = [
        datetime.fromisoformat(s) for s in slots(sign_in, shop, today, today + timedelta(days=20))
    ]
    assert offered
    for start in offered:
        assert start.utcoffset() == start.astimezone(NY).utcoffset()  # the tenant's zone
        assert start.weekday() != 6  # closed on Sundays
        assert time(9, 0) <= start.time() <= time(16, 0) and start.minute in (0, 30)
        assert now + timedelta(minutes=120) <= start <= now + timedelta(days=14)
    assert offered == sorted(offered)


def test_availability_with_invalid_input_is_422(sign_in: Any, shop: Shop) -> None:
    client = sign_in(shop.tenant["client"])
    url = "/api/portal/availability"
    for params, expected in (
        (
            {"service_id": str(shop.service), "from": "2030-01-10", "to": "2030-01-01"},
            "invalid_date_range",
        ),
        (
            {"service_id": str(shop.service), "from": "2030-01-01", "to": "2030-03-01"},
            "invalid_date_range",
        ),
        ({"service_id": str(uuid.uuid4()), "from": "2030-01-01"}, "unknown_service"),
        ({"service_id": str(shop.service), "from": "soon"}, "validation_error"),
    ):
        response = client.get(url, params=params)
        assert response.status_code == 422 and code(response) == expected, response.text

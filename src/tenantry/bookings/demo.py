"""Demo bookings: a few finished last week and a working diary over the coming three
weeks, spread across the team, for the demo client. Runs after services; with no
services it adds nothing (the requests in hand are booked by the requests' demo).
Idempotent: a tenant with bookings is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.bookings.models import Booking
from tenantry.kit.demo import DemoTenant, fills
from tenantry.services.models import Service

# (day offset from today, start hour UTC, assignee role or None, status, notes)
DIARY: tuple[tuple[int, int, str | None, str, str], ...] = (
    (-6, 9, "staff", "completed", "Paid on the day."),
    (-3, 14, "consultant", "completed", ""),
    (-1, 10, "staff", "cancelled", "Cancelled: client away, rebook next month."),
    (1, 9, "staff", "confirmed", "Side gate code 4512."),
    (1, 13, "consultant", "confirmed", ""),
    (2, 10, "admin", "pending", "First visit; call on arrival."),
    (4, 8, "staff", "confirmed", "Parking on the street only."),
    (5, 15, None, "pending", "Asked for a morning slot if one opens up."),
    (8, 11, "consultant", "pending", ""),
    (9, 9, "staff", "confirmed", "Regular fortnightly visit."),
    (12, 14, "admin", "cancelled", "Cancelled: moved to the week after."),
    (15, 10, "staff", "pending", ""),
    (18, 13, "consultant", "confirmed", "Bring the long ladder."),
    (20, 9, None, "pending", "Online booking."),
)


@fills(Booking)
def fill(s: Session, demo: DemoTenant) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    services = list(
        s.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name))
    )
    if not services:
        return
    for index, (day, hour, assignee, status, notes) in enumerate(DIARY):
        service = services[index % len(services)]
        starts = today + timedelta(days=day, hours=hour)
        s.add(
            Booking(
                client_id=demo.user("client"),
                service_id=service.id,
                assignee_id=demo.user(assignee) if assignee else None,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=service.duration_minutes),
                status=status,
                notes=notes,
            )
        )

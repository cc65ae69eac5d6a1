"""Demo service requests: one in every status, from the demo client, for the tenant's
active services; the ones in hand (``assigned``, ``in_progress``) are booked. Runs
after services and bookings; with no services it adds nothing. Idempotent: a tenant
that already has requests is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.bookings.models import Booking
from tenantry.kit.demo import DemoTenant, fills
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service

# (status, priority, assignee role or None, title, description)
REQUESTS: tuple[tuple[str, str, str | None, str, str], ...] = (
    (
        "submitted",
        "high",
        None,
        "Water marks spreading on the hallway ceiling",
        "Noticed after the weekend's rain. About a metre across and still damp.",
    ),
    (
        "triaged",
        "normal",
        None,
        "Quote for the whole ground floor",
        "Moving out at the end of the month; need the place ready for the inventory check.",
    ),
    (
        "assigned",
        "normal",
        "staff",
        "Regular visit before the family arrives",
        "Guest room and both bathrooms please. Key is with the neighbour at number 12.",
    ),
    (
        "in_progress",
        "urgent",
        "consultant",
        "Follow-up: stains came back in the lounge",
        "Second visit after last week's job; the patch by the window is showing again.",
    ),
    (
        "completed",
        "low",
        "staff",
        "Spring visit",
        "Same as last year. Thank you for the flexible timing!",
    ),
    (
        "cancelled",
        "normal",
        None,
        "Extra visit on Saturday",
        "Cancelled: managed to sort it ourselves.",
    ),
)


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@fills(ServiceRequest)
def fill(s: Session, demo: DemoTenant) -> None:
    now = datetime.now(UTC)
    services = list(
        s.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name))
    )
    if not services:
        return
    for index, (status, priority, assignee, title, description) in enumerate(REQUESTS):
        s.add(
            ServiceRequest(
                client_id=demo.user("client"),
                service_id=services[index % len(services)].id,
                assignee_id=demo.user(assignee) if assignee else None,
                status=status,
                priority=priority,
                title=title,
                description=description,
                # Older requests are further along: spread over the last fortnight.
                created_at=now - timedelta(days=2 * (len(REQUESTS) - index), hours=index),
            )
        )
    s.flush()
    # The requests staff are working on were booked from the request.
    for offset, request in enumerate(
        s.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.status.in_(("assigned", "in_progress")))
            .order_by(ServiceRequest.created_at)
        )
    ):
        starts = today() + timedelta(days=3 + 4 * offset, hours=16)
        minutes = next((v.duration_minutes for v in services if v.id == request.service_id), 60)
        s.add(
            Booking(
                client_id=request.client_id,
                service_id=request.service_id,
                service_request_id=request.id,
                assignee_id=request.assignee_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=minutes),
                status="confirmed",
                notes=request.title,
            )
        )

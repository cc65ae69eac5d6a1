"""Demo work orders: jobs behind the requests in hand and a few of the team's own.
Runs after requests and bookings; with no services it adds nothing. Idempotent: a
tenant with work orders is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.bookings.models import Booking
from tenantry.kit.demo import DemoTenant, fills
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tenantry.work_orders.models import WorkOrder

# (title, description, assignee role or None, status, due in days or None)
STANDALONE: tuple[tuple[str, str, str | None, str, int | None], ...] = (
    (
        "Service the van",
        "MOT due next month; book the garage and the tyre check.",
        "admin",
        "open",
        10,
    ),
    (
        "Restock supplies",
        "Microfibre cloths, descaler, bin liners, spare nozzles.",
        "staff",
        "in_progress",
        2,
    ),
    (
        "Renew public liability insurance",
        "Renewal letter is in the office tray.",
        "owner",
        "done",
        None,
    ),
    ("Safety briefing for new starters", "", None, "cancelled", None),
)


@fills(WorkOrder)
def fill(s: Session, demo: DemoTenant) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    # Like the other business fillers: no catalogue yet, no demo business at all.
    if s.scalar(select(Service.id).where(Service.active.is_(True)).limit(1)) is None:
        return
    for title, description, assignee, status, due in STANDALONE:
        s.add(
            WorkOrder(
                title=title,
                description=description,
                assignee_id=demo.user(assignee) if assignee else None,
                status=status,
                due_at=now + timedelta(days=due) if due is not None else None,
            )
        )
    # One job per request in hand, linked to the request's booking when it has one.
    in_hand = s.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.status.in_(("assigned", "in_progress")))
        .order_by(ServiceRequest.created_at)
    ).all()
    for request in in_hand:
        booking = s.scalar(select(Booking).where(Booking.service_request_id == request.id).limit(1))
        s.add(
            WorkOrder(
                title=f"Job sheet: {request.title}",
                description="Photos before and after; note any damage found on arrival.",
                service_request_id=request.id,
                booking_id=booking.id if booking else None,
                assignee_id=request.assignee_id,
                status="in_progress" if request.status == "in_progress" else "open",
                due_at=booking.ends_at if booking else now + timedelta(days=7),
            )
        )

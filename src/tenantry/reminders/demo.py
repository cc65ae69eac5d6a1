"""Demo reminders: the day-before emails for upcoming bookings (pending, with their jobs
queued), one already sent, one cancelled, and a follow-up on an open service request.
Idempotent: a tenant with reminders is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.bookings.models import Booking
from tenantry.kit.demo import DemoTenant, fills
from tenantry.reminders.models import ScheduledReminder
from tenantry.reminders.service import schedule_sending
from tenantry.service_requests.models import ServiceRequest


@fills(ScheduledReminder)
def fill(s: Session, demo: DemoTenant) -> None:
    now = datetime.now(UTC)
    bookings = s.execute(
        select(Booking.id, Booking.starts_at)
        .where(Booking.status.in_(("pending", "confirmed")))
        .order_by(Booking.starts_at)
        .limit(6)
    ).all()
    for index, (booking_id, starts_at) in enumerate(bookings):
        send_at = starts_at - timedelta(days=1)
        status = "cancelled" if index == 4 else "pending"
        if send_at <= now:  # too late for a day-before reminder: it went out already
            status = "sent"
        subject = f"Reminder: your appointment on {starts_at:%A %d %B at %H:%M} (UTC)"
        reminder = ScheduledReminder(
            booking_id=booking_id,
            channel="email",
            send_at=send_at,
            status=status,
            sent_at=send_at if status == "sent" else None,
            attempts=1 if status == "sent" else 0,
            payload={"subject": subject, "note": "Reply to this email to reschedule."},
        )
        s.add(reminder)
        if status == "pending":
            s.flush()
            schedule_sending(s, reminder=reminder)
    request = s.execute(
        select(ServiceRequest.id, ServiceRequest.title)
        .where(ServiceRequest.status.in_(("submitted", "triaged")))
        .order_by(ServiceRequest.created_at)
        .limit(1)
    ).first()
    if request is not None:
        send_at = now + timedelta(days=10, hours=2)
        reminder = ScheduledReminder(
            service_request_id=request[0],
            channel="email",
            send_at=send_at,
            payload={
                "subject": f"Reminder: {request[1]}",
                "note": "We'll be in touch to arrange a visit.",
            },
        )
        s.add(reminder)
        s.flush()
        schedule_sending(s, reminder=reminder)

"""Reminders: the kit's repository, the list order, the targets' client and the
sender's locked reads. Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tenantry.bookings.models import Booking
from tenantry.kit.errors import UnknownBooking, UnknownServiceRequest
from tenantry.kit.repository import Repository, built_once
from tenantry.reminders.models import ScheduledReminder
from tenantry.service_requests.models import ServiceRequest

# A target vanishing between the check and the insert is the same unknown reference.
reminders = Repository(
    ScheduledReminder,
    not_found="No such reminder.",
    constraints={
        "fk_scheduled_reminders_booking_id": UnknownBooking,
        "fk_scheduled_reminders_service_request_id": UnknownServiceRequest,
    },
)


@built_once
def soonest_first(*, status: str | None) -> Select[ScheduledReminder]:
    stmt = reminders.select().order_by(ScheduledReminder.send_at, ScheduledReminder.id)
    return stmt if status is None else stmt.where(ScheduledReminder.status == status)


def booking_target(session: Session, *, booking_id: uuid.UUID) -> tuple[uuid.UUID, datetime] | None:
    """(client id, start) of a booking of this tenant."""
    row = session.execute(
        select(Booking.client_id, Booking.starts_at).where(Booking.id == booking_id)
    ).first()
    return (row[0], row[1]) if row else None


def request_target(
    session: Session, *, service_request_id: uuid.UUID
) -> tuple[uuid.UUID, str] | None:
    """(client id, title) of a service request of this tenant."""
    row = session.execute(
        select(ServiceRequest.client_id, ServiceRequest.title).where(
            ServiceRequest.id == service_request_id
        )
    ).first()
    return (row[0], row[1]) if row else None


def pending_for_send(session: Session, *, reminder_id: uuid.UUID) -> ScheduledReminder | None:
    """The reminder, locked, if it is still pending; rows another worker holds are skipped."""
    return session.scalar(
        select(ScheduledReminder)
        .where(ScheduledReminder.id == reminder_id, ScheduledReminder.status == "pending")
        .with_for_update(skip_locked=True)
    )


def next_due_without_job(session: Session, *, now: datetime) -> ScheduledReminder | None:
    """One due, pending reminder that has no job of its own (legacy), locked."""
    return session.scalar(
        select(ScheduledReminder)
        .where(
            ScheduledReminder.status == "pending",
            ScheduledReminder.send_at <= now,
            ScheduledReminder.job_id.is_(None),
        )
        .order_by(ScheduledReminder.send_at, ScheduledReminder.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )

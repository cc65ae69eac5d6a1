"""Queries on reminders. Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership, User
from tenantry.bookings.models import Booking
from tenantry.reminders.models import ScheduledReminder
from tenantry.service_requests.models import ServiceRequest


def get(
    session: Session, *, reminder_id: uuid.UUID, for_update: bool = False
) -> ScheduledReminder | None:
    query = select(ScheduledReminder).where(ScheduledReminder.id == reminder_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def page(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[list[ScheduledReminder], int]:
    query = select(ScheduledReminder)
    if status is not None:
        query = query.where(ScheduledReminder.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ScheduledReminder.send_at, ScheduledReminder.id).limit(limit).offset(offset)
    )
    return list(rows), total


def add(session: Session, reminder: ScheduledReminder) -> ScheduledReminder:
    session.add(reminder)
    session.flush()
    session.refresh(reminder)
    return reminder


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


def member_email(session: Session, *, user_id: uuid.UUID) -> str | None:
    return session.scalar(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.status == "active")
    )


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

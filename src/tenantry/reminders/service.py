"""Reminder rules: scheduling (a job is deferred at ``send_at``), cancelling, sending.

Sending runs in the job worker, inside the reminder's tenant context (``tenantry.jobs``):
each due reminder is locked (``SKIP LOCKED``, so two workers never send one twice),
mailed over SMTP and marked ``sent`` in its own transaction. A failed send is retried
by a later job, up to ``MAX_ATTEMPTS``; then the reminder is ``failed``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry import jobs
from tenantry.db.engine import Database
from tenantry.email.service import MailUnavailable, send_mail
from tenantry.errors import Conflict, NotFound
from tenantry.isolation.context import require_tenant_id
from tenantry.kit.pagination import PageParams
from tenantry.reminders import repository
from tenantry.reminders.models import ScheduledReminder
from tenantry.reminders.schemas import ReminderIn
from tenantry.settings import Settings

SEND_TASK = "reminders.send_due"
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=5)
BATCH_LIMIT = 500

_log = structlog.get_logger("tenantry.reminders")


class ReminderNotPending(Conflict):
    code = "invalid_transition"
    message = "Only a pending reminder can be cancelled."


def job_lock() -> str:
    """One sender per tenant at a time (procrastinate ``lock``)."""
    return f"reminders:{require_tenant_id()}"


def create_reminder(*, session: Session, data: ReminderIn) -> ScheduledReminder:
    """Schedule a reminder to the client of a booking or service request of this tenant."""
    if data.booking_id is not None:
        booking = repository.booking_target(session, booking_id=data.booking_id)
        if booking is None:
            raise NotFound("No such booking.")
        subject = f"Reminder: your appointment on {booking[1]:%A %d %B at %H:%M} (UTC)"
    else:
        assert data.service_request_id is not None
        request = repository.request_target(session, service_request_id=data.service_request_id)
        if request is None:
            raise NotFound("No such service request.")
        subject = f"Reminder: {request[1]}"
    try:
        reminder = repository.add(
            session,
            ScheduledReminder(
                booking_id=data.booking_id,
                service_request_id=data.service_request_id,
                channel=data.channel,
                send_at=data.send_at,
                status="pending",
                payload={"subject": subject, "note": data.note},
            ),
        )
    except IntegrityError as exc:  # the target vanished meanwhile
        raise NotFound() from exc
    schedule_sending(session=session, send_at=data.send_at)
    return reminder


def schedule_sending(*, session: Session, send_at: datetime) -> int:
    """Defer the tenant's sender at ``send_at``, in the caller's transaction."""
    return jobs.defer(session, SEND_TASK, schedule_at=send_at, lock=job_lock())


def list_reminders(
    *, session: Session, status: str | None, page: PageParams
) -> tuple[list[ScheduledReminder], int]:
    return repository.page(session, status=status, limit=page.limit, offset=page.offset)


def get_reminder(*, session: Session, reminder_id: uuid.UUID) -> ScheduledReminder:
    reminder = repository.get(session, reminder_id=reminder_id)
    if reminder is None:
        raise NotFound("No such reminder.")
    return reminder


def cancel_reminder(*, session: Session, reminder_id: uuid.UUID) -> ScheduledReminder:
    reminder = repository.get(session, reminder_id=reminder_id, for_update=True)
    if reminder is None:
        raise NotFound("No such reminder.")
    if reminder.status != "pending":
        raise ReminderNotPending()
    reminder.status = "cancelled"
    session.flush()
    return reminder


def _recipient(session: Session, reminder: ScheduledReminder) -> str | None:
    client_id: uuid.UUID | None = None
    if reminder.booking_id is not None:
        booking = repository.booking_target(session, booking_id=reminder.booking_id)
        client_id = booking[0] if booking else None
    elif reminder.service_request_id is not None:
        request = repository.request_target(session, service_request_id=reminder.service_request_id)
        client_id = request[0] if request else None
    return repository.member_email(session, user_id=client_id) if client_id else None


def _body(reminder: ScheduledReminder) -> str:
    note = str(reminder.payload.get("note") or "").strip()
    lines = [str(reminder.payload.get("subject") or "A reminder"), ""]
    if note:
        lines += [note, ""]
    lines.append("This message was sent by Tenantry on behalf of your service provider.")
    return "\n".join(lines)


def send_due_reminders(*, db: Database, settings: Settings, tenant_id: uuid.UUID) -> int:
    """Send this tenant's due reminders. Runs inside the tenant's context (job runner)."""
    if require_tenant_id() != tenant_id:  # the runner sets it; a mismatch is a bug
        raise RuntimeError("send_due_reminders called outside its tenant's context")
    sent = 0
    retry = False
    for _ in range(BATCH_LIMIT):
        with db.session() as session:
            reminder = repository.next_due(session, now=datetime.now(UTC))
            if reminder is None:
                break
            reminder.attempts += 1
            recipient = _recipient(session, reminder)
            if recipient is None:
                reminder.status = "failed"
                reminder.payload = {**reminder.payload, "error": "no recipient"}
                continue
            try:
                send_mail(
                    settings,
                    to=recipient,
                    subject=str(reminder.payload.get("subject") or "Reminder"),
                    body=_body(reminder),
                )
            except MailUnavailable:
                if reminder.attempts >= MAX_ATTEMPTS:
                    reminder.status = "failed"
                    reminder.payload = {**reminder.payload, "error": "mail server unavailable"}
                else:
                    # Back off: no other reminder of this run can get through either.
                    reminder.send_at = datetime.now(UTC) + RETRY_AFTER
                    retry = True
                continue
            reminder.status = "sent"
            reminder.sent_at = datetime.now(UTC)
            sent += 1
    if retry:
        with db.session() as session:
            schedule_sending(session=session, send_at=datetime.now(UTC) + RETRY_AFTER)
    _log.info("reminders_sent", count=sent)
    return sent

"""Reminder rules: scheduling (one job per reminder, at ``send_at``), cancelling, sending.

Each reminder has a job of its own (``reminders.send``, its id kept in ``job_id``),
with no procrastinate lock: a reminder due in year 9999, or one that fails on every
run, delays no other reminder of its tenant or of any other (issue 8, finding 4 — the
former per-tenant sender job carried a per-tenant lock, and a lock makes later jobs
wait for the earliest). Cancelling a reminder cancels its job in the same transaction.

Sending runs in the job worker, inside the reminder's tenant context (``tenantry.jobs``):
the reminder is locked (``SKIP LOCKED``, so two workers never send one twice), mailed
over SMTP and marked ``sent`` in the same transaction. A failure is recorded on the
reminder (``attempts``, ``payload.error``) and raised: the runner retries the job with
backoff and, after its last attempt, parks it as ``failed`` — the reminder then is
``failed`` too, with its error. Header values (the subject quotes a request's title)
are sanitised by ``email.service.send_mail``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy.orm import Session

from tenantry import jobs
from tenantry.db.engine import Database
from tenantry.email.errors import MailUnavailable
from tenantry.email.repository import member_email
from tenantry.email.service import send_mail
from tenantry.isolation.context import require_tenant_id
from tenantry.kit.errors import InvalidTransition, UnknownBooking, UnknownServiceRequest
from tenantry.kit.pagination import Page, PageParams
from tenantry.reminders import repository
from tenantry.reminders.models import ScheduledReminder
from tenantry.reminders.repository import reminders, soonest_first
from tenantry.reminders.schemas import ReminderIn
from tenantry.settings import Settings

SEND_TASK = "reminders.send"
# The per-tenant sender of earlier versions: jobs already queued still run (they send
# the tenant's due reminders that have no job of their own).
LEGACY_SEND_TASK = "reminders.send_due"
SEND_ATTEMPTS = 5
BATCH_LIMIT = 500

_log = structlog.get_logger("tenantry.reminders")


def _subject(session: Session, data: ReminderIn) -> str:
    """The subject quotes the target (a booking or service request of this tenant)."""
    if data.booking_id is not None:
        booking = repository.booking_target(session, booking_id=data.booking_id)
        if booking is None:
            raise UnknownBooking()
        return f"Reminder: your appointment on {booking[1]:%A %d %B at %H:%M} (UTC)"
    request = None
    if data.service_request_id is not None:
        request = repository.request_target(session, service_request_id=data.service_request_id)
    if request is None:
        raise UnknownServiceRequest()
    return f"Reminder: {request[1]}"


def create_reminder(session: Session, *, data: ReminderIn) -> ScheduledReminder:
    """Schedule a reminder to the client of a booking or service request of this tenant."""
    reminder = ScheduledReminder(
        booking_id=data.booking_id,
        service_request_id=data.service_request_id,
        channel=data.channel,
        send_at=data.send_at,
        status="pending",
        payload={"subject": _subject(session, data), "note": data.note},
    )
    reminders.add(session, reminder)
    schedule_sending(session, reminder=reminder)
    return reminder


def schedule_sending(session: Session, *, reminder: ScheduledReminder) -> int:
    """Defer the reminder's own job at its ``send_at``, in the caller's transaction."""
    reminder.job_id = jobs.defer(
        session, SEND_TASK, schedule_at=reminder.send_at, reminder_id=str(reminder.id)
    )
    reminders.flush(session)
    return reminder.job_id


def list_reminders(
    session: Session, *, status: str | None, page: PageParams
) -> Page[ScheduledReminder]:
    return reminders.page(session, soonest_first(status=status), page)


def cancel_reminder(session: Session, *, reminder_id: uuid.UUID) -> ScheduledReminder:
    reminder = reminders.for_update(session, reminder_id)
    if reminder.status != "pending":
        raise InvalidTransition("Only a pending reminder can be cancelled.")
    reminder.status = "cancelled"
    if reminder.job_id is not None:
        jobs.cancel(session, reminder.job_id)  # False if it runs now: it will find no pending
    reminders.flush(session)
    return reminder


def _recipient(session: Session, reminder: ScheduledReminder) -> str | None:
    client_id: uuid.UUID | None = None
    if reminder.booking_id is not None:
        booking = repository.booking_target(session, booking_id=reminder.booking_id)
        client_id = booking[0] if booking else None
    elif reminder.service_request_id is not None:
        request = repository.request_target(session, service_request_id=reminder.service_request_id)
        client_id = request[0] if request else None
    return member_email(session, user_id=client_id) if client_id else None


def _body(reminder: ScheduledReminder) -> str:
    note = str(reminder.payload.get("note") or "").strip()
    lines = [str(reminder.payload.get("subject") or "A reminder"), ""]
    if note:
        lines += [note, ""]
    lines.append("This message was sent by Tenantry on behalf of your service provider.")
    return "\n".join(lines)


def send_reminder(
    *,
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    reminder_id: uuid.UUID,
    last_attempt: bool,
) -> bool:
    """Send one reminder (its job). True if sent; False if there was nothing to send
    (cancelled, already sent, or another worker has it). Runs in the tenant's context."""
    if require_tenant_id() != tenant_id:  # the runner sets it; a mismatch is a bug
        raise RuntimeError("send_reminder called outside its tenant's context")
    try:
        with db.session() as session:
            reminder = repository.pending_for_send(session, reminder_id=reminder_id)
            if reminder is None:
                return False
            _deliver(session, settings, reminder)
    except Exception as exc:
        _record_failure(db, reminder_id, exc, final=last_attempt)
        raise
    return True


class NoRecipient(Exception):
    """The reminder's client is no longer an active member."""


def _deliver(session: Session, settings: Settings, reminder: ScheduledReminder) -> None:
    recipient = _recipient(session, reminder)
    if recipient is None:
        raise NoRecipient("no recipient")
    send_mail(
        settings,
        to=recipient,
        subject=str(reminder.payload.get("subject") or "Reminder"),
        body=_body(reminder),
    )
    reminder.attempts += 1
    reminder.status = "sent"
    reminder.sent_at = datetime.now(UTC)
    _log.info("reminder_sent", reminder_id=str(reminder.id))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MailUnavailable):
        return "mail server unavailable"
    return f"{type(exc).__name__}: {exc}"[:300]


def _record_failure(
    db: Database, reminder_id: uuid.UUID, exc: BaseException, *, final: bool
) -> None:
    """In its own transaction (the sending one rolled back): count the attempt, keep
    the error, and mark the reminder ``failed`` when this was the job's last attempt."""
    with db.session() as session:
        reminder = reminders.get(session, reminder_id, lock=True)
        if reminder is None or reminder.status != "pending":
            return
        reminder.attempts += 1
        reminder.payload = {**reminder.payload, "error": _describe(exc)}
        if final:
            reminder.status = "failed"
    _log.warning("reminder_failed", reminder_id=str(reminder_id), error=_describe(exc), final=final)


def send_due_reminders(*, db: Database, settings: Settings, tenant_id: uuid.UUID) -> int:
    """Legacy sender (jobs queued before reminders had jobs of their own): send this
    tenant's due reminders that have no job, each in its own transaction."""
    if require_tenant_id() != tenant_id:
        raise RuntimeError("send_due_reminders called outside its tenant's context")
    sent = 0
    for _ in range(BATCH_LIMIT):
        with db.session() as session:
            reminder = repository.next_due_without_job(session, now=datetime.now(UTC))
            if reminder is None:
                break
            try:
                with session.begin_nested():
                    _deliver(session, settings, reminder)
                sent += 1
            except Exception as exc:
                reminder.attempts += 1
                reminder.status = "failed"
                reminder.payload = {**reminder.payload, "error": _describe(exc)}
    return sent

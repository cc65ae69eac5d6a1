"""Reminder jobs: registered with the tenant-aware runner (``tenantry.jobs``)."""

from __future__ import annotations

import uuid

from tenantry.jobs import JobEnv, tenant_task
from tenantry.reminders.service import (
    LEGACY_SEND_TASK,
    SEND_ATTEMPTS,
    SEND_TASK,
    send_due_reminders,
    send_reminder,
)


@tenant_task(SEND_TASK, attempts=SEND_ATTEMPTS)
def send(env: JobEnv, *, tenant_id: uuid.UUID, reminder_id: str) -> bool:
    """Send one reminder (deferred at its ``send_at``; retried with backoff)."""
    return send_reminder(
        db=env.db,
        settings=env.settings,
        tenant_id=tenant_id,
        reminder_id=uuid.UUID(reminder_id),
        last_attempt=env.last_attempt,
    )


@tenant_task(LEGACY_SEND_TASK, attempts=1)
def send_due(env: JobEnv, *, tenant_id: uuid.UUID) -> int:
    """Jobs queued by earlier versions: send the tenant's due reminders without a job."""
    return send_due_reminders(db=env.db, settings=env.settings, tenant_id=tenant_id)

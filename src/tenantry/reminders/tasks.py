"""Reminder jobs: registered with the tenant-aware runner (``tenantry.jobs``)."""

from __future__ import annotations

import uuid

from tenantry.jobs import JobEnv, tenant_task
from tenantry.reminders.service import SEND_TASK, send_due_reminders


@tenant_task(SEND_TASK)
def send_due(env: JobEnv, *, tenant_id: uuid.UUID) -> int:
    """Send the tenant's due reminders (deferred at each reminder's ``send_at``)."""
    return send_due_reminders(db=env.db, settings=env.settings, tenant_id=tenant_id)

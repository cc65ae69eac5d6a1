"""Errors of reminders (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import NotFound


class ReminderNotFound(NotFound):
    message = "No such reminder."

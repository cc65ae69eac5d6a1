"""Errors of the contact inbox (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import NotFound


class SubmissionNotFound(NotFound):
    message = "No such message."

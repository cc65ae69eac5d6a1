"""Errors of service requests (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import Conflict


class AssigneeRequired(Conflict):
    code = "assignee_required"
    message = "Assign the request to someone first (POST /assign)."


class AlreadyConverted(Conflict):
    code = "already_converted"
    message = "This request already has a booking."

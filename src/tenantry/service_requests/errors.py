"""Errors of service requests (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import NotFound


class RequestNotFound(NotFound):
    message = "No such service request."

"""Errors of bookings (shared faults come from ``tenantry.kit.errors``; the booking
rules' own refusals live in ``rules`` and ``availability``)."""

from __future__ import annotations

from tenantry.errors import Conflict, Forbidden, InvalidInput


class InvalidTimeRange(InvalidInput):
    code = "invalid_time_range"
    message = "ends_at must be after starts_at."


class RangeTooLong(InvalidInput):
    code = "range_too_long"
    message = "The range is too long."


class CancellationNotAllowed(Forbidden):
    code = "cancellation_not_allowed"
    message = "This business does not allow clients to cancel online; contact them."


class CancellationTooLate(Conflict):
    code = "cancellation_too_late"
    message = "It is too late to cancel this booking online; contact the business."

"""Errors of work orders (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.kit.errors import UnknownReference


class BookingOfAnotherRequest(UnknownReference):
    code = "booking_not_of_request"
    message = "The booking belongs to another service request."

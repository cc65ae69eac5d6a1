"""Errors of invoices (shared faults come from ``tenantry.kit.errors``: a client or
booking not of this tenant is ``unknown_client`` / ``unknown_booking`` as everywhere)."""

from __future__ import annotations

from tenantry.errors import Conflict, InvalidInput


class InvoiceNumberConflict(Conflict):
    code = "invoice_number_conflict"
    message = "Could not allocate an invoice number; try again."


class NumberTaken(InvoiceNumberConflict):
    """Another invoice took this number meanwhile; the service retries with the next."""


class BookingClientMismatch(InvalidInput):
    code = "booking_client_mismatch"
    message = "The booking belongs to another client."


class NegativeTotal(InvalidInput):
    code = "invoice_total_negative"
    message = "The invoice total may not be negative."

"""The shared error vocabulary of the business areas: one class, one code, per fault.

An area raises these instead of defining its own copy, so the same fault answers the
same code everywhere (a client id that is not a client of this tenant is
``unknown_client`` whether it came in a booking, a request or an invoice). Errors
particular to one area stay in that area and subclass the closest of these.
"""

from __future__ import annotations

from tenantry.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "ConstraintConflict",
    "InvalidTransition",
    "NotFound",
    "RecordClosed",
    "SlugTaken",
    "UnknownAssignee",
    "UnknownBooking",
    "UnknownClient",
    "UnknownReference",
    "UnknownService",
    "UnknownServiceRequest",
]


class InvalidTransition(Conflict):
    """A status change the record's status machine does not allow (409)."""

    code = "invalid_transition"
    message = "This status change is not allowed."


class RecordClosed(Conflict):
    """A change to a record whose life is over (a completed or cancelled request, a done
    work order, a cancelled booking, an accepted or revoked invitation): 409. One code
    for every kind, as ``not_found``; the area's message says what is closed."""

    code = "record_closed"
    message = "This record is closed and can no longer be changed."


class ConstraintConflict(Conflict):
    """A constraint the checks did not foresee (a row changed or a member left
    concurrently). Names nothing of the stored data."""

    code = "conflict"
    message = "The change conflicts with the current data; reload and try again."


class SlugTaken(Conflict):
    """A slug already in use (a post's, a service's, a tenant's): one code. The area's
    message says whose slug it is."""

    code = "slug_taken"
    message = "This slug is taken."


class UnknownReference(InvalidInput):
    """A body names a record that does not exist in this tenant (422). Another
    tenant's id gets exactly the same answer as an id that exists nowhere."""

    code = "unknown_reference"
    message = "The request names a record that does not exist in this tenant."


class UnknownClient(UnknownReference):
    code = "unknown_client"
    message = "No active client of this tenant has this id."


class UnknownService(UnknownReference):
    code = "unknown_service"
    message = "No available service of this tenant has this id."


class UnknownAssignee(UnknownReference):
    code = "unknown_assignee"
    message = "No staff, admin or owner of this tenant has this id."


class UnknownBooking(UnknownReference):
    code = "unknown_booking"
    message = "No booking of this tenant has this id."


class UnknownServiceRequest(UnknownReference):
    code = "unknown_service_request"
    message = "No service request of this tenant has this id."

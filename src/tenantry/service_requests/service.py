"""Service request rules: the status machine, assignment to staff, conversion into a
booking, and the client's own requests. Flush only; the request commits once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from tenantry.bookings import repository as bookings_repo
from tenantry.bookings import service as bookings
from tenantry.bookings.models import Booking
from tenantry.errors import Conflict, NotFound
from tenantry.kit.errors import InvalidTransition, UnknownAssignee, UnknownClient, UnknownService
from tenantry.kit.members import STAFF_ROLES, find_member
from tenantry.kit.repository import flush
from tenantry.service_requests import repository as repo
from tenantry.service_requests.models import ServiceRequest
from tenantry.services import repository as services

OPEN_STATUSES = frozenset({"submitted", "triaged", "assigned", "in_progress"})
# The forward path, one step at a time; any open request may also be cancelled.
NEXT: dict[str, str] = {
    "submitted": "triaged",
    "triaged": "assigned",
    "assigned": "in_progress",
    "in_progress": "completed",
}


class RequestClosed(Conflict):
    code = "request_closed"
    message = "This request is completed or cancelled."


class AssigneeRequired(Conflict):
    code = "assignee_required"
    message = "Assign the request to someone first (POST /assign)."


class AlreadyConverted(Conflict):
    code = "already_converted"
    message = "This request already has a booking."


def allowed(current: str, to: str) -> bool:
    if to == "cancelled":
        return current in OPEN_STATUSES
    return NEXT.get(current) == to


def get(
    session: Session, *, request_id: uuid.UUID, client_id: uuid.UUID | None = None
) -> ServiceRequest:
    request = repo.get(session, request_id=request_id, client_id=client_id)
    if request is None:
        raise NotFound()
    return request


def _locked(
    session: Session, *, request_id: uuid.UUID, client_id: uuid.UUID | None = None
) -> ServiceRequest:
    request = repo.get(session, request_id=request_id, client_id=client_id, lock=True)
    if request is None:
        raise NotFound()
    return request


def _open(request: ServiceRequest) -> ServiceRequest:
    if request.status not in OPEN_STATUSES:
        raise RequestClosed()
    return request


def list_requests(
    session: Session,
    *,
    filters: repo.RequestFilters,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> tuple[list[ServiceRequest], int]:
    return repo.list_requests(
        session, filters=filters, limit=limit, offset=offset, oldest_first=oldest_first
    )


def create(
    session: Session,
    *,
    client_id: uuid.UUID,
    service_id: uuid.UUID,
    title: str,
    description: str = "",
    priority: str = "normal",
    active_service_only: bool = False,
) -> ServiceRequest:
    if find_member(session, user_id=client_id, roles=("client",)) is None:
        raise UnknownClient()
    if services.find(session, service_id=service_id, active_only=active_service_only) is None:
        raise UnknownService()
    request = ServiceRequest(
        client_id=client_id,
        service_id=service_id,
        title=title,
        description=description,
        priority=priority,
        status="submitted",
    )
    repo.add(session, request)
    flush(session)
    return request


def triage(
    session: Session,
    *,
    request_id: uuid.UUID,
    priority: str | None = None,
    title: str | None = None,
    description: str | None = None,
) -> ServiceRequest:
    request = _open(_locked(session, request_id=request_id))
    if priority is not None:
        request.priority = priority
    if title is not None:
        request.title = title
    if description is not None:
        request.description = description
    flush(session)
    return request


def assign(session: Session, *, request_id: uuid.UUID, assignee_id: uuid.UUID) -> ServiceRequest:
    """Give the request to a staff member; a submitted or triaged request becomes
    ``assigned`` (later statuses keep theirs — this is a hand-over)."""
    request = _open(_locked(session, request_id=request_id))
    if find_member(session, user_id=assignee_id, roles=STAFF_ROLES) is None:
        raise UnknownAssignee()
    request.assignee_id = assignee_id
    if request.status in ("submitted", "triaged"):
        request.status = "assigned"
    flush(session)
    return request


def set_status(session: Session, *, request_id: uuid.UUID, to: str) -> ServiceRequest:
    request = _locked(session, request_id=request_id)
    if not allowed(request.status, to):
        raise InvalidTransition(f"A {request.status} request cannot become {to}.")
    if to == "assigned" and request.assignee_id is None:
        raise AssigneeRequired()
    request.status = to
    flush(session)
    return request


def convert_to_booking(
    session: Session,
    *,
    request_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime | None,
    assignee_id: uuid.UUID | None,
    notes: str,
) -> Booking:
    """Book the request (once). The booking takes the request's client and service and,
    unless given, its assignee; a submitted or triaged request with an assignee
    becomes ``assigned``, any other keeps its status."""
    # The row lock makes "already converted" hold under concurrent conversions.
    request = _open(_locked(session, request_id=request_id))
    if bookings_repo.for_request(session, service_request_id=request.id) is not None:
        raise AlreadyConverted()
    assignee = assignee_id if assignee_id is not None else request.assignee_id
    booking = bookings.create(
        session,
        client_id=request.client_id,
        service_id=request.service_id,
        starts_at=starts_at,
        ends_at=ends_at,
        assignee_id=assignee,
        notes=notes or request.title,
        service_request_id=request.id,
        active_service_only=False,
    )
    if assignee is not None and request.status in ("submitted", "triaged"):
        request.assignee_id = assignee
        request.status = "assigned"
        flush(session)
    return booking


# --- portal ------------------------------------------------------------------------


def create_for_client(
    session: Session, *, client_id: uuid.UUID, service_id: uuid.UUID, title: str, description: str
) -> ServiceRequest:
    return create(
        session,
        client_id=client_id,
        service_id=service_id,
        title=title,
        description=description,
        active_service_only=True,
    )


def cancel_for_client(
    session: Session, *, client_id: uuid.UUID, request_id: uuid.UUID
) -> ServiceRequest:
    request = _locked(session, request_id=request_id, client_id=client_id)
    if request.status not in OPEN_STATUSES:
        raise InvalidTransition(f"A {request.status} request cannot be cancelled.")
    request.status = "cancelled"
    flush(session)
    return request

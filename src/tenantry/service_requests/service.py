"""Service request rules: the status machine, assignment to staff, conversion into a
booking, and the client's own requests. Flush only; the request commits once."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tenantry.bookings import repository as bookings_repo
from tenantry.bookings import service as bookings
from tenantry.bookings.models import Booking
from tenantry.bookings.schemas import BookingCreate
from tenantry.kit.errors import (
    InvalidTransition,
    RecordClosed,
    UnknownAssignee,
    UnknownClient,
    UnknownService,
)
from tenantry.kit.members import STAFF_ROLES, find_member
from tenantry.kit.pagination import Page, PageParams
from tenantry.service_requests.errors import AlreadyConverted, AssigneeRequired
from tenantry.service_requests.models import ServiceRequest
from tenantry.service_requests.repository import (
    OPEN_STATUSES,
    RequestFilters,
    by_creation,
    requests,
)
from tenantry.service_requests.schemas import (
    ConvertToBooking,
    PortalServiceRequestCreate,
    ServiceRequestCreate,
    ServiceRequestTriage,
)
from tenantry.services import repository as services

# The forward path, one step at a time; any open request may also be cancelled.
NEXT: dict[str, str] = {
    "submitted": "triaged",
    "triaged": "assigned",
    "assigned": "in_progress",
    "in_progress": "completed",
}


def allowed(current: str, to: str) -> bool:
    if to == "cancelled":
        return current in OPEN_STATUSES
    return NEXT.get(current) == to


def _open(request: ServiceRequest) -> ServiceRequest:
    if request.status not in OPEN_STATUSES:
        raise RecordClosed("This request is completed or cancelled.")
    return request


def list_requests(
    session: Session,
    *,
    filters: RequestFilters,
    owner: uuid.UUID | None = None,
    oldest_first: bool = False,
    page: PageParams,
) -> Page[ServiceRequest]:
    """The tenant's requests; with ``owner``, that client's own."""
    stmt = by_creation(filters, owner=owner, oldest_first=oldest_first)
    return requests.page(session, stmt, page)


def _file(
    session: Session,
    *,
    client_id: uuid.UUID,
    data: ServiceRequestCreate | PortalServiceRequestCreate,
    priority: str,
    active_service_only: bool,
) -> ServiceRequest:
    if find_member(session, user_id=client_id, roles=("client",)) is None:
        raise UnknownClient()
    if services.find(session, service_id=data.service_id, active_only=active_service_only) is None:
        raise UnknownService()
    request = ServiceRequest(
        client_id=client_id,
        service_id=data.service_id,
        title=data.title,
        description=data.description,
        priority=priority,
        status="submitted",
    )
    return requests.add(session, request)


def create(session: Session, *, data: ServiceRequestCreate) -> ServiceRequest:
    """Staff file a request for a client of this tenant (any service, active or not)."""
    return _file(
        session,
        client_id=data.client_id,
        data=data,
        priority=data.priority,
        active_service_only=False,
    )


def triage(
    session: Session, *, request_id: uuid.UUID, data: ServiceRequestTriage
) -> ServiceRequest:
    request = _open(requests.for_update(session, request_id))
    return requests.update(session, request, data.changes())


def assign(session: Session, *, request_id: uuid.UUID, assignee_id: uuid.UUID) -> ServiceRequest:
    """Give the request to a staff member; a submitted or triaged request becomes
    ``assigned`` (later statuses keep theirs — this is a hand-over)."""
    request = _open(requests.for_update(session, request_id))
    if find_member(session, user_id=assignee_id, roles=STAFF_ROLES) is None:
        raise UnknownAssignee()
    request.assignee_id = assignee_id
    if request.status in ("submitted", "triaged"):
        request.status = "assigned"
    requests.flush(session)
    return request


def set_status(session: Session, *, request_id: uuid.UUID, to: str) -> ServiceRequest:
    request = requests.for_update(session, request_id)
    if not allowed(request.status, to):
        raise InvalidTransition(f"A {request.status} request cannot become {to}.")
    if to == "assigned" and request.assignee_id is None:
        raise AssigneeRequired()
    request.status = to
    requests.flush(session)
    return request


def convert_to_booking(
    session: Session, *, request_id: uuid.UUID, data: ConvertToBooking
) -> Booking:
    """Book the request (once). The booking takes the request's client and service and,
    unless given, its assignee; a submitted or triaged request with an assignee
    becomes ``assigned``, any other keeps its status."""
    # The row lock makes "already converted" hold under concurrent conversions.
    request = _open(requests.for_update(session, request_id))
    if bookings_repo.for_request(session, service_request_id=request.id) is not None:
        raise AlreadyConverted()
    assignee = data.assignee_id if data.assignee_id is not None else request.assignee_id
    booking_data = BookingCreate(
        client_id=request.client_id,
        service_id=request.service_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        assignee_id=assignee,
        notes=data.notes or request.title,
    )
    booking = bookings.create(
        session, data=booking_data, service_request_id=request.id, active_service_only=False
    )
    if assignee is not None and request.status in ("submitted", "triaged"):
        request.assignee_id = assignee
        request.status = "assigned"
        requests.flush(session)
    return booking


# --- portal ------------------------------------------------------------------------


def create_for_client(
    session: Session, *, client_id: uuid.UUID, data: PortalServiceRequestCreate
) -> ServiceRequest:
    """A client asks for one of the tenant's active services."""
    return _file(
        session, client_id=client_id, data=data, priority="normal", active_service_only=True
    )


def cancel_for_client(
    session: Session, *, owner: uuid.UUID, request_id: uuid.UUID
) -> ServiceRequest:
    request = requests.for_update(session, request_id, owner=owner)
    if request.status not in OPEN_STATUSES:
        raise InvalidTransition(f"A {request.status} request cannot be cancelled.")
    request.status = "cancelled"
    requests.flush(session)
    return request

"""Service requests: staff triage, assign, progress and book them under
/api/admin/service-requests; clients file and follow their own under
/api/portal/service-requests (ownership checked in the repository query)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, status

from tenantry.auth.dependencies import TenantSession
from tenantry.bookings.schemas import BookingOut
from tenantry.db.unit import single_read
from tenantry.kit.actor import PortalClient
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import RequestsRead, RequestsToBooking, RequestsWrite
from tenantry.routing import NOT_FOUND, Responses, tenant_router
from tenantry.service_requests import service
from tenantry.service_requests.repository import RequestFilters, requests
from tenantry.service_requests.schemas import (
    ConvertToBooking,
    PortalServiceRequestCreate,
    RequestPriority,
    RequestStatus,
    ServiceRequestAssign,
    ServiceRequestCreate,
    ServiceRequestOut,
    ServiceRequestStatusChange,
    ServiceRequestTriage,
)

admin_router = tenant_router(prefix="/api/admin/service-requests", tags=["service requests"])
portal_router = tenant_router(prefix="/api/portal/service-requests", tags=["portal"])

REFERENCES: Responses = {
    422: {
        "description": "Invalid input, or `unknown_client` / `unknown_service` / `unknown_assignee`"
    },
}
WRITE: Responses = {
    **NOT_FOUND,
    **REFERENCES,
    409: {"description": "`invalid_transition`, `record_closed`, `assignee_required`"},
}
CANCEL: Responses = {**NOT_FOUND, 409: {"description": "No longer open (`invalid_transition`)"}}


# --- admin -------------------------------------------------------------------------


@admin_router.get("")
def list_requests(
    ctx: RequestsRead,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    priority: RequestPriority | None = None,
    assignee_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=r"^[^\x00]*$", description="Text in title or description"),
    ] = None,
    order: Annotated[
        Literal["newest", "oldest"], Query(description="By creation: newest or oldest first.")
    ] = "newest",
) -> Page[ServiceRequestOut]:
    """The tenant's service requests, newest first (or oldest)."""
    filters = RequestFilters(
        status=status_, priority=priority, assignee_id=assignee_id, client_id=client_id, q=q
    )
    found = service.list_requests(
        session, filters=filters, oldest_first=order == "oldest", page=page
    )
    return found.map(ServiceRequestOut.model_validate)


@admin_router.get("/{request_id}", responses=NOT_FOUND)
@single_read
def get_request(
    ctx: RequestsRead, session: TenantSession, request_id: uuid.UUID
) -> ServiceRequestOut:
    """One service request."""
    return ServiceRequestOut.model_validate(requests.row_or_404(session, request_id))


@admin_router.post("", status_code=status.HTTP_201_CREATED, responses=REFERENCES)
def create_request(
    ctx: RequestsWrite, session: TenantSession, body: ServiceRequestCreate
) -> ServiceRequestOut:
    """File a request on behalf of a client of this tenant."""
    return ServiceRequestOut.model_validate(service.create(session, data=body))


@admin_router.patch("/{request_id}", responses=WRITE)
def triage_request(
    ctx: RequestsWrite, session: TenantSession, request_id: uuid.UUID, body: ServiceRequestTriage
) -> ServiceRequestOut:
    """Triage an open request: change its priority, title or description."""
    request = service.triage(session, request_id=request_id, data=body)
    return ServiceRequestOut.model_validate(request)


@admin_router.post("/{request_id}/assign", responses=WRITE)
def assign_request(
    ctx: RequestsWrite, session: TenantSession, request_id: uuid.UUID, body: ServiceRequestAssign
) -> ServiceRequestOut:
    """Assign an open request to a staff, admin or owner member; a submitted or triaged
    request becomes ``assigned``."""
    request = service.assign(session, request_id=request_id, assignee_id=body.assignee_id)
    return ServiceRequestOut.model_validate(request)


@admin_router.post("/{request_id}/status", responses=WRITE)
def change_request_status(
    ctx: RequestsWrite,
    session: TenantSession,
    request_id: uuid.UUID,
    body: ServiceRequestStatusChange,
) -> ServiceRequestOut:
    """Move the request one step: submitted → triaged → assigned → in_progress →
    completed, or cancel an open one. Anything else is a 409 ``invalid_transition``."""
    request = service.set_status(session, request_id=request_id, to=body.status)
    return ServiceRequestOut.model_validate(request)


@admin_router.post(
    "/{request_id}/convert-to-booking",
    status_code=status.HTTP_201_CREATED,
    responses={
        **WRITE,
        409: {"description": "`already_converted`, `record_closed`"},
    },
)
def convert_request_to_booking(
    ctx: RequestsToBooking, session: TenantSession, request_id: uuid.UUID, body: ConvertToBooking
) -> BookingOut:
    """Create the request's booking (one per request). ``ends_at`` defaults to the
    service's duration, the assignee to the request's; a submitted or triaged request
    with an assignee becomes ``assigned``."""
    booking = service.convert_to_booking(session, request_id=request_id, data=body)
    return BookingOut.model_validate(booking)


# --- portal ------------------------------------------------------------------------


@portal_router.get("")
def list_my_requests(
    client: PortalClient,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
) -> Page[ServiceRequestOut]:
    """The signed-in client's requests, newest first."""
    found = service.list_requests(
        session, filters=RequestFilters(status=status_), owner=client.user_id, page=page
    )
    return found.map(ServiceRequestOut.model_validate)


@portal_router.get("/{request_id}", responses=NOT_FOUND)
def get_my_request(
    client: PortalClient, session: TenantSession, request_id: uuid.UUID
) -> ServiceRequestOut:
    """One of the client's own requests (another client's is a 404)."""
    request = requests.get_or_404(session, request_id, owner=client.user_id)
    return ServiceRequestOut.model_validate(request)


@portal_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Invalid input, or `unknown_service`"}},
)
def create_my_request(
    client: PortalClient, session: TenantSession, body: PortalServiceRequestCreate
) -> ServiceRequestOut:
    """Ask for one of the tenant's active services."""
    request = service.create_for_client(session, client_id=client.user_id, data=body)
    return ServiceRequestOut.model_validate(request)


@portal_router.post(
    "/{request_id}/cancel",
    responses=CANCEL,
)
def cancel_my_request(
    client: PortalClient, session: TenantSession, request_id: uuid.UUID
) -> ServiceRequestOut:
    """Withdraw one of your own requests while it is open."""
    request = service.cancel_for_client(session, owner=client.user_id, request_id=request_id)
    return ServiceRequestOut.model_validate(request)


routers = [admin_router, portal_router]

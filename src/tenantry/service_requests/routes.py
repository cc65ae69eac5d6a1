"""Service requests: staff triage, assign, progress and book them under
/api/admin/service-requests; clients file and follow their own under
/api/portal/service-requests (ownership checked in the repository query)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, status

from tenantry.auth.dependencies import TenantSession
from tenantry.bookings.schemas import BookingOut
from tenantry.isolation.context import TenantContext
from tenantry.kit.actor import PortalClient
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.dependencies import RequirePermission
from tenantry.routing import tenant_router
from tenantry.service_requests import service
from tenantry.service_requests.repository import RequestFilters
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

RequestsRead = Annotated[TenantContext, Depends(RequirePermission("requests.read"))]
RequestsWrite = Annotated[TenantContext, Depends(RequirePermission("requests.write"))]
# Converting makes a booking: the bookings permission is needed as well.
RequestsToBooking = Annotated[
    TenantContext, Depends(RequirePermission("requests.write", "bookings.write"))
]

admin_router = tenant_router(prefix="/api/admin/service-requests", tags=["service requests"])
portal_router = tenant_router(prefix="/api/portal/service-requests", tags=["portal"])

R = dict[int | str, dict[str, Any]]
AUTH: R = {401: {"description": "Not signed in"}, 403: {"description": "role_required"}}
FOUND: R = {**AUTH, 404: {"description": "No such request in this tenant (not_found)"}}
WRITE: R = {
    **FOUND,
    409: {"description": "invalid_transition, request_closed, assignee_required"},
    422: {"description": "Invalid input, or unknown_client / unknown_service / unknown_assignee"},
}


def _out(request: object) -> ServiceRequestOut:
    return ServiceRequestOut.model_validate(request)


# --- admin -------------------------------------------------------------------------


@admin_router.get("", response_model=Page[ServiceRequestOut], responses=AUTH)
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
    items, total = service.list_requests(
        session,
        filters=filters,
        limit=page.limit,
        offset=page.offset,
        oldest_first=order == "oldest",
    )
    return Page(items=[_out(r) for r in items], total=total, limit=page.limit, offset=page.offset)


@admin_router.get("/{request_id}", response_model=ServiceRequestOut, responses=FOUND)
def get_request(
    ctx: RequestsRead, session: TenantSession, request_id: uuid.UUID
) -> ServiceRequestOut:
    """One service request."""
    return _out(service.get(session, request_id=request_id))


@admin_router.post(
    "", response_model=ServiceRequestOut, status_code=status.HTTP_201_CREATED, responses=WRITE
)
def create_request(
    ctx: RequestsWrite, session: TenantSession, body: ServiceRequestCreate
) -> ServiceRequestOut:
    """File a request on behalf of a client of this tenant."""
    request = service.create(
        session,
        client_id=body.client_id,
        service_id=body.service_id,
        title=body.title,
        description=body.description,
        priority=body.priority,
    )
    return _out(request)


@admin_router.patch("/{request_id}", response_model=ServiceRequestOut, responses=WRITE)
def triage_request(
    ctx: RequestsWrite, session: TenantSession, request_id: uuid.UUID, body: ServiceRequestTriage
) -> ServiceRequestOut:
    """Triage an open request: change its priority, title or description."""
    request = service.triage(
        session,
        request_id=request_id,
        priority=body.priority,
        title=body.title,
        description=body.description,
    )
    return _out(request)


@admin_router.post("/{request_id}/assign", response_model=ServiceRequestOut, responses=WRITE)
def assign_request(
    ctx: RequestsWrite, session: TenantSession, request_id: uuid.UUID, body: ServiceRequestAssign
) -> ServiceRequestOut:
    """Assign an open request to a staff, admin or owner member; a submitted or triaged
    request becomes ``assigned``."""
    return _out(service.assign(session, request_id=request_id, assignee_id=body.assignee_id))


@admin_router.post("/{request_id}/status", response_model=ServiceRequestOut, responses=WRITE)
def change_request_status(
    ctx: RequestsWrite,
    session: TenantSession,
    request_id: uuid.UUID,
    body: ServiceRequestStatusChange,
) -> ServiceRequestOut:
    """Move the request one step: submitted → triaged → assigned → in_progress →
    completed, or cancel an open one. Anything else is a 409 ``invalid_transition``."""
    return _out(service.set_status(session, request_id=request_id, to=body.status))


@admin_router.post(
    "/{request_id}/convert-to-booking",
    response_model=BookingOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **WRITE,
        409: {"description": "already_converted, request_closed"},
    },
)
def convert_request_to_booking(
    ctx: RequestsToBooking, session: TenantSession, request_id: uuid.UUID, body: ConvertToBooking
) -> BookingOut:
    """Create the request's booking (one per request). ``ends_at`` defaults to the
    service's duration, the assignee to the request's; a submitted or triaged request
    with an assignee becomes ``assigned``."""
    booking = service.convert_to_booking(
        session,
        request_id=request_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        assignee_id=body.assignee_id,
        notes=body.notes,
    )
    return BookingOut.model_validate(booking)


# --- portal ------------------------------------------------------------------------


@portal_router.get("", response_model=Page[ServiceRequestOut], responses=AUTH)
def list_my_requests(
    client: PortalClient,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
) -> Page[ServiceRequestOut]:
    """The signed-in client's requests, newest first."""
    items, total = service.list_requests(
        session,
        filters=RequestFilters(status=status_, client_id=client.user_id),
        limit=page.limit,
        offset=page.offset,
    )
    return Page(items=[_out(r) for r in items], total=total, limit=page.limit, offset=page.offset)


@portal_router.get("/{request_id}", response_model=ServiceRequestOut, responses=FOUND)
def get_my_request(
    client: PortalClient, session: TenantSession, request_id: uuid.UUID
) -> ServiceRequestOut:
    """One of the client's own requests (another client's is a 404)."""
    return _out(service.get(session, request_id=request_id, client_id=client.user_id))


@portal_router.post(
    "",
    response_model=ServiceRequestOut,
    status_code=status.HTTP_201_CREATED,
    responses={**AUTH, 422: {"description": "Invalid input, unknown_service"}},
)
def create_my_request(
    client: PortalClient, session: TenantSession, body: PortalServiceRequestCreate
) -> ServiceRequestOut:
    """Ask for one of the tenant's active services."""
    request = service.create_for_client(
        session,
        client_id=client.user_id,
        service_id=body.service_id,
        title=body.title,
        description=body.description,
    )
    return _out(request)


@portal_router.post(
    "/{request_id}/cancel",
    response_model=ServiceRequestOut,
    responses={**FOUND, 409: {"description": "invalid_transition (no longer open)"}},
)
def cancel_my_request(
    client: PortalClient, session: TenantSession, request_id: uuid.UUID
) -> ServiceRequestOut:
    """Withdraw one of your own requests while it is open."""
    return _out(service.cancel_for_client(session, client_id=client.user_id, request_id=request_id))


routers = [admin_router, portal_router]

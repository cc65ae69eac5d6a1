"""Work orders under /api/admin/work-orders: staff create them (on their own or from a
service request or booking), plan them and move them through their statuses."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, status

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.isolation.context import TenantContext
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.catalog import reads_for
from tenantry.permissions.dependencies import RequirePermission, require_permissions
from tenantry.routing import tenant_router
from tenantry.work_orders import service
from tenantry.work_orders.schemas import (
    WorkOrderCreate,
    WorkOrderOut,
    WorkOrderStatus,
    WorkOrderStatusChange,
    WorkOrderUpdate,
)

WorkOrdersRead = Annotated[TenantContext, Depends(RequirePermission("work_orders.read"))]
WorkOrdersWrite = Annotated[TenantContext, Depends(RequirePermission("work_orders.write"))]

router = tenant_router(prefix="/api/admin/work-orders", tags=["work orders"])

R = dict[int | str, dict[str, Any]]
AUTH: R = {401: {"description": "Not signed in"}, 403: {"description": "role_required"}}
FOUND: R = {**AUTH, 404: {"description": "No such work order in this tenant (not_found)"}}
WRITE: R = {
    **FOUND,
    409: {"description": "invalid_transition, work_order_closed"},
    422: {
        "description": "Invalid input, or unknown_assignee / unknown_service_request /"
        " unknown_booking / booking_not_of_request"
    },
}


def _out(work_order: object) -> WorkOrderOut:
    return WorkOrderOut.model_validate(work_order)


@router.get("", response_model=Page[WorkOrderOut], responses=AUTH)
def list_work_orders(
    ctx: WorkOrdersRead,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[WorkOrderStatus | None, Query(alias="status")] = None,
    assignee_id: uuid.UUID | None = None,
) -> Page[WorkOrderOut]:
    """The tenant's work orders, soonest due first (undated last)."""
    items, total = service.list_work_orders(
        session, status=status_, assignee_id=assignee_id, limit=page.limit, offset=page.offset
    )
    return Page(items=[_out(w) for w in items], total=total, limit=page.limit, offset=page.offset)


@router.get("/{work_order_id}", response_model=WorkOrderOut, responses=FOUND)
def get_work_order(
    ctx: WorkOrdersRead, session: TenantSession, work_order_id: uuid.UUID
) -> WorkOrderOut:
    """One work order."""
    return _out(service.get(session, work_order_id=work_order_id))


@router.post("", response_model=WorkOrderOut, status_code=status.HTTP_201_CREATED, responses=WRITE)
def create_work_order(
    ctx: WorkOrdersWrite, session: TenantSession, db: DatabaseDep, body: WorkOrderCreate
) -> WorkOrderOut:
    """Open a work order, optionally from a service request and/or booking of this
    tenant (title and assignee default to theirs, so their read permission —
    `requests.read`, `bookings.read` — is needed too)."""
    require_permissions(
        db, ctx, *reads_for(service_request_id=body.service_request_id, booking_id=body.booking_id)
    )
    work_order = service.create(
        session,
        title=body.title,
        description=body.description,
        assignee_id=body.assignee_id,
        due_at=body.due_at,
        service_request_id=body.service_request_id,
        booking_id=body.booking_id,
    )
    return _out(work_order)


@router.patch("/{work_order_id}", response_model=WorkOrderOut, responses=WRITE)
def update_work_order(
    ctx: WorkOrdersWrite, session: TenantSession, work_order_id: uuid.UUID, body: WorkOrderUpdate
) -> WorkOrderOut:
    """Change title, description, assignee or due date of an open or in-progress work
    order; ``null`` clears the assignee or due date."""
    changes = body.model_dump(include=body.model_fields_set)
    return _out(service.update(session, work_order_id=work_order_id, changes=changes))


@router.post("/{work_order_id}/status", response_model=WorkOrderOut, responses=WRITE)
def change_work_order_status(
    ctx: WorkOrdersWrite,
    session: TenantSession,
    work_order_id: uuid.UUID,
    body: WorkOrderStatusChange,
) -> WorkOrderOut:
    """open → in_progress → done; in_progress may go back to open; open or in-progress
    work may be cancelled. Anything else is a 409 ``invalid_transition``."""
    return _out(service.set_status(session, work_order_id=work_order_id, to=body.status))

"""Work orders under /api/admin/work-orders: staff create them (on their own or from a
service request or booking), plan them and move them through their statuses."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.db.unit import single_read
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import WorkOrdersRead, WorkOrdersWrite
from tenantry.permissions.catalog import reads_for
from tenantry.permissions.dependencies import require_permissions
from tenantry.routing import NOT_FOUND, Responses, tenant_router
from tenantry.work_orders import service
from tenantry.work_orders.repository import work_orders
from tenantry.work_orders.schemas import (
    WorkOrderCreate,
    WorkOrderOut,
    WorkOrderStatus,
    WorkOrderStatusChange,
    WorkOrderUpdate,
)

router = tenant_router(prefix="/api/admin/work-orders", tags=["work orders"])

REFERENCES: Responses = {
    422: {
        "description": "Invalid input, or `unknown_assignee` / `unknown_service_request` /"
        " `unknown_booking` / `booking_not_of_request`"
    },
}
WRITE: Responses = {
    **NOT_FOUND,
    **REFERENCES,
    409: {"description": "`invalid_transition`, `record_closed`"},
}


@router.get("")
def list_work_orders(
    ctx: WorkOrdersRead,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[WorkOrderStatus | None, Query(alias="status")] = None,
    assignee_id: uuid.UUID | None = None,
) -> Page[WorkOrderOut]:
    """The tenant's work orders, soonest due first (undated last)."""
    found = service.list_work_orders(session, status=status_, assignee_id=assignee_id, page=page)
    return found.map(WorkOrderOut.model_validate)


@router.get("/{work_order_id}", responses=NOT_FOUND)
@single_read
def get_work_order(
    ctx: WorkOrdersRead, session: TenantSession, work_order_id: uuid.UUID
) -> WorkOrderOut:
    """One work order."""
    return WorkOrderOut.model_validate(work_orders.row_or_404(session, work_order_id))


@router.post("", status_code=status.HTTP_201_CREATED, responses=REFERENCES)
def create_work_order(
    ctx: WorkOrdersWrite, session: TenantSession, db: DatabaseDep, body: WorkOrderCreate
) -> WorkOrderOut:
    """Open a work order, optionally from a service request and/or booking of this
    tenant (title and assignee default to theirs, so their read permission —
    `requests.read`, `bookings.read` — is needed too)."""
    require_permissions(
        db, ctx, *reads_for(service_request_id=body.service_request_id, booking_id=body.booking_id)
    )
    return WorkOrderOut.model_validate(service.create(session, data=body))


@router.patch("/{work_order_id}", responses=WRITE)
def update_work_order(
    ctx: WorkOrdersWrite, session: TenantSession, work_order_id: uuid.UUID, body: WorkOrderUpdate
) -> WorkOrderOut:
    """Change title, description, assignee or due date of an open or in-progress work
    order; ``null`` clears the assignee or due date."""
    work_order = service.update(session, work_order_id=work_order_id, data=body)
    return WorkOrderOut.model_validate(work_order)


@router.post("/{work_order_id}/status", responses=WRITE)
def change_work_order_status(
    ctx: WorkOrdersWrite,
    session: TenantSession,
    work_order_id: uuid.UUID,
    body: WorkOrderStatusChange,
) -> WorkOrderOut:
    """open → in_progress → done; in_progress may go back to open; open or in-progress
    work may be cancelled. Anything else is a 409 ``invalid_transition``."""
    work_order = service.set_status(session, work_order_id=work_order_id, to=body.status)
    return WorkOrderOut.model_validate(work_order)

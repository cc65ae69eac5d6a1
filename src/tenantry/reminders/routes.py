"""Reminders: schedule, list and cancel reminders about bookings and service requests."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, status

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.isolation.context import TenantContext
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.catalog import reads_for
from tenantry.permissions.dependencies import RequirePermission, require_permissions
from tenantry.reminders import service
from tenantry.reminders.schemas import ReminderIn, ReminderOut
from tenantry.routing import tenant_router

router = tenant_router(prefix="/api/admin/reminders", tags=["reminders"])

RemindersRead = Annotated[TenantContext, Depends(RequirePermission("reminders.read"))]
RemindersWrite = Annotated[TenantContext, Depends(RequirePermission("reminders.write"))]

DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Only the team may manage reminders (`role_required`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such reminder or target"}}


@router.get("", response_model=Page[ReminderOut], responses=DENIED)
def list_reminders(
    ctx: RemindersRead,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[
        Literal["pending", "sent", "failed", "cancelled"] | None,
        Query(alias="status", description="Only reminders in this status."),
    ] = None,
) -> Page[ReminderOut]:
    """The tenant's reminders, soonest first."""
    rows, total = service.list_reminders(session=session, status=status_, page=page)
    return Page(
        items=[ReminderOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "",
    response_model=ReminderOut,
    status_code=status.HTTP_201_CREATED,
    responses={**DENIED, **NOT_FOUND},
)
def create_reminder(
    ctx: RemindersWrite, session: TenantSession, db: DatabaseDep, body: ReminderIn
) -> ReminderOut:
    """Schedule an email reminder to the client of a booking or service request of this
    tenant (its read permission is needed too: the reminder quotes it). A job is queued
    for `send_at`, in the same transaction as the reminder."""
    require_permissions(
        db, ctx, *reads_for(service_request_id=body.service_request_id, booking_id=body.booking_id)
    )
    return ReminderOut.model_validate(service.create_reminder(session=session, data=body))


@router.get("/{reminder_id}", response_model=ReminderOut, responses={**DENIED, **NOT_FOUND})
def get_reminder(ctx: RemindersRead, session: TenantSession, reminder_id: uuid.UUID) -> ReminderOut:
    """One reminder of this tenant, with its status and attempts."""
    return ReminderOut.model_validate(
        service.get_reminder(session=session, reminder_id=reminder_id)
    )


@router.post(
    "/{reminder_id}/cancel",
    response_model=ReminderOut,
    responses={
        **DENIED,
        **NOT_FOUND,
        409: {"description": "The reminder is not pending (`invalid_transition`)"},
    },
)
def cancel_reminder(
    ctx: RemindersWrite, session: TenantSession, reminder_id: uuid.UUID
) -> ReminderOut:
    """Cancel a pending reminder; its job then finds nothing to send."""
    return ReminderOut.model_validate(
        service.cancel_reminder(session=session, reminder_id=reminder_id)
    )

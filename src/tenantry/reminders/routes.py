"""Reminders: schedule, list and cancel reminders about bookings and service requests."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, status

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.db.unit import single_read
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import RemindersRead, RemindersWrite
from tenantry.permissions.catalog import reads_for
from tenantry.permissions.dependencies import require_permissions
from tenantry.reminders import service
from tenantry.reminders.repository import reminders
from tenantry.reminders.schemas import ReminderIn, ReminderOut
from tenantry.routing import NOT_FOUND, Responses, tenant_router

router = tenant_router(prefix="/api/admin/reminders", tags=["reminders"])


UNKNOWN_TARGET: Responses = {
    422: {
        "description": "Invalid input, or no such target in this tenant"
        " (`unknown_booking`, `unknown_service_request`)"
    }
}


@router.get("")
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
    found = service.list_reminders(session, status=status_, page=page)
    return found.map(ReminderOut.model_validate)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=UNKNOWN_TARGET,
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
    return ReminderOut.model_validate(service.create_reminder(session, data=body))


@router.get("/{reminder_id}", responses=NOT_FOUND)
@single_read
def get_reminder(ctx: RemindersRead, session: TenantSession, reminder_id: uuid.UUID) -> ReminderOut:
    """One reminder of this tenant, with its status and attempts."""
    return ReminderOut.model_validate(reminders.row_or_404(session, reminder_id))


@router.post(
    "/{reminder_id}/cancel",
    responses={
        **NOT_FOUND,
        409: {"description": "The reminder is not pending (`invalid_transition`)"},
    },
)
def cancel_reminder(
    ctx: RemindersWrite, session: TenantSession, reminder_id: uuid.UUID
) -> ReminderOut:
    """Cancel a pending reminder; its job then finds nothing to send."""
    return ReminderOut.model_validate(service.cancel_reminder(session, reminder_id=reminder_id))

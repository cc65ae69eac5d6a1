"""Bookings: staff manage them under /api/admin/bookings; clients book and cancel their
own under /api/portal/bookings (ownership checked in the repository query); the staff
calendar is GET /api/admin/calendar."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import Query, status
from pydantic import AwareDatetime

from tenantry.auth.dependencies import TenantSession
from tenantry.bookings import service
from tenantry.bookings.repository import BookingFilters, bookings
from tenantry.bookings.schemas import (
    Availability,
    BookingCancel,
    BookingCreate,
    BookingOut,
    BookingReschedule,
    BookingStats,
    BookingStatus,
    CalendarEntry,
    PendingCount,
    PortalBookingCancel,
    PortalBookingCreate,
)
from tenantry.db.unit import single_read
from tenantry.kit.actor import PortalClient
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import BookingsRead, BookingsWrite
from tenantry.routing import NOT_FOUND, Responses, tenant_router

admin_router = tenant_router(prefix="/api/admin/bookings", tags=["bookings"])
portal_router = tenant_router(prefix="/api/portal/bookings", tags=["portal"])
calendar_router = tenant_router(prefix="/api/admin/calendar", tags=["calendar"])
admin_availability = tenant_router(prefix="/api/admin/availability", tags=["bookings"])
portal_availability = tenant_router(prefix="/api/portal/availability", tags=["portal"])

RULES = (
    "`booking_in_past`, `notice_too_short`, `too_far_ahead`, `outside_business_hours`, "
    "`off_slot_grid`, `slot_taken`, `within_buffer`, `no_one_available`"
)
REFERENCES: Responses = {
    422: {
        "description": "Invalid input; `unknown_client` / `unknown_service` / "
        f"`unknown_assignee`; or a booking rule: {RULES}"
    },
}
WRITE: Responses = {
    **NOT_FOUND,
    **REFERENCES,
    409: {"description": "`invalid_transition`"},
}
SLOTS: Responses = {
    422: {
        "description": "Invalid input, `unknown_service`, `unknown_assignee`, `invalid_date_range`"
    },
}
FromDay = Annotated[date, Query(alias="from", description="First day, in the tenant's time zone.")]
ToDay = Annotated[
    date | None,
    Query(description="Last day (inclusive; at most 31 days in all). Default: a week."),
]


# --- admin -------------------------------------------------------------------------


@admin_router.get("")
def list_bookings(
    ctx: BookingsRead,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[BookingStatus | None, Query(alias="status")] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from", description="starts_at ≥")] = None,
    to: Annotated[AwareDatetime | None, Query(description="starts_at <")] = None,
    client_id: uuid.UUID | None = None,
    assignee_id: uuid.UUID | None = None,
    service_id: uuid.UUID | None = None,
    order: Annotated[
        Literal["soonest", "latest"], Query(description="By start: soonest or latest first.")
    ] = "soonest",
) -> Page[BookingOut]:
    """Bookings of the tenant, soonest first (or latest), filtered by status, start
    range, client, assignee and service."""
    filters = BookingFilters(
        status=status_,
        starts_from=from_,
        starts_before=to,
        client_id=client_id,
        assignee_id=assignee_id,
        service_id=service_id,
    )
    found = service.list_bookings(
        session, filters=filters, latest_first=order == "latest", page=page
    )
    return found.map(BookingOut.model_validate)


@admin_router.get("/stats")
def booking_stats(ctx: BookingsRead, session: TenantSession) -> BookingStats:
    """Counts by status, bookings starting in the next 7 days, and revenue estimates
    from current service prices (cached per tenant for a few seconds)."""
    return service.stats(session)


@admin_router.get("/pending-count")
def pending_count(ctx: BookingsRead, session: TenantSession) -> PendingCount:
    """How many bookings wait for confirmation (the admin badge)."""
    return PendingCount(pending=service.pending_count(session))


@admin_router.get("/{booking_id}", responses=NOT_FOUND)
@single_read
def get_booking(ctx: BookingsRead, session: TenantSession, booking_id: uuid.UUID) -> BookingOut:
    """One booking."""
    return BookingOut.model_validate(bookings.row_or_404(session, booking_id))


@admin_router.post("", status_code=status.HTTP_201_CREATED, responses=REFERENCES)
def create_booking(ctx: BookingsWrite, session: TenantSession, body: BookingCreate) -> BookingOut:
    """Book a client for an active service. ``ends_at`` defaults to ``starts_at`` plus
    the service's duration. Every booking rule applies (422 with the rule's code):
    not in the past, the minimum notice and maximum advance, within opening hours, on
    the slot grid; a named assignee must be free with the buffer around their other
    bookings kept (``slot_taken``, ``within_buffer``); without one, someone must be
    left free for it (``no_one_available``). No back-dating: record past work as a
    work order."""
    booking = service.create(session, data=body)
    return BookingOut.model_validate(booking)


@admin_router.post(
    "/{booking_id}/reschedule",
    responses={**WRITE, 409: {"description": "`record_closed` (a cancelled or completed booking)"}},
)
def reschedule_booking(
    ctx: BookingsWrite, session: TenantSession, booking_id: uuid.UUID, body: BookingReschedule
) -> BookingOut:
    """Move a pending or confirmed booking. Without ``ends_at`` it keeps its length.
    The new time must pass every booking rule, as for a new booking."""
    booking = service.reschedule(
        session, booking_id=booking_id, starts_at=body.starts_at, ends_at=body.ends_at
    )
    return BookingOut.model_validate(booking)


@admin_router.post("/{booking_id}/cancel", responses=WRITE)
def cancel_booking(
    ctx: BookingsWrite, session: TenantSession, booking_id: uuid.UUID, body: BookingCancel
) -> BookingOut:
    """Cancel a pending or confirmed booking; the reason is kept in its notes."""
    booking = service.cancel(session, booking_id=booking_id, reason=body.reason)
    return BookingOut.model_validate(booking)


@admin_router.post("/{booking_id}/confirm", responses=WRITE)
def confirm_booking(
    ctx: BookingsWrite, session: TenantSession, booking_id: uuid.UUID
) -> BookingOut:
    """pending → confirmed."""
    booking = service.set_status(session, booking_id=booking_id, to="confirmed")
    return BookingOut.model_validate(booking)


@admin_router.post("/{booking_id}/complete", responses=WRITE)
def complete_booking(
    ctx: BookingsWrite, session: TenantSession, booking_id: uuid.UUID
) -> BookingOut:
    """confirmed → completed."""
    booking = service.set_status(session, booking_id=booking_id, to="completed")
    return BookingOut.model_validate(booking)


# --- portal ------------------------------------------------------------------------


@portal_router.get("")
def list_my_bookings(
    client: PortalClient,
    session: TenantSession,
    page: Pagination,
    status_: Annotated[BookingStatus | None, Query(alias="status")] = None,
) -> Page[BookingOut]:
    """The signed-in client's bookings, soonest first."""
    found = service.list_bookings(
        session, filters=BookingFilters(status=status_), owner=client.user_id, page=page
    )
    return found.map(BookingOut.model_validate)


@portal_router.get("/{booking_id}", responses=NOT_FOUND)
def get_my_booking(
    client: PortalClient, session: TenantSession, booking_id: uuid.UUID
) -> BookingOut:
    """One of the client's own bookings (another client's is a 404)."""
    return BookingOut.model_validate(bookings.get_or_404(session, booking_id, owner=client.user_id))


@portal_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        422: {"description": f"Invalid input, `unknown_service`, or a booking rule: {RULES}"}
    },
)
def create_my_booking(
    client: PortalClient, session: TenantSession, body: PortalBookingCreate
) -> BookingOut:
    """Book an active service for yourself at one of the open slots
    (``GET /api/portal/availability``). Every booking rule applies and is refused
    with a 422 naming it; the booking goes to a team member who is free then."""
    booking = service.create_for_client(session, client_id=client.user_id, data=body)
    return BookingOut.model_validate(booking)


@portal_router.post(
    "/{booking_id}/cancel",
    responses={
        **NOT_FOUND,
        403: {"description": "`role_required`, `cancellation_not_allowed`"},
        409: {"description": "`invalid_transition`, `cancellation_too_late`"},
    },
)
def cancel_my_booking(
    client: PortalClient,
    session: TenantSession,
    booking_id: uuid.UUID,
    body: PortalBookingCancel | None = None,
) -> BookingOut:
    """Cancel one of your own pending or confirmed bookings, if the business allows
    online cancellation and the start is far enough away."""
    booking = service.cancel_for_client(
        session, owner=client.user_id, booking_id=booking_id, reason=body.reason if body else ""
    )
    return BookingOut.model_validate(booking)


# --- calendar ------------------------------------------------------------------------


@calendar_router.get(
    "",
    responses={
        422: {"description": "Missing or invalid from/to, `invalid_time_range`, `range_too_long`"},
    },
)
def calendar(
    ctx: BookingsRead,
    session: TenantSession,
    from_: Annotated[AwareDatetime, Query(alias="from", description="Range start (inclusive).")],
    to: Annotated[AwareDatetime, Query(description="Range end (exclusive); at most 62 days on.")],
    include_cancelled: bool = False,
) -> list[CalendarEntry]:
    """Bookings that intersect [from, to), soonest first, with the service's name and
    the client and assignee ids. Cancelled bookings only on request."""
    return service.calendar(session, start=from_, end=to, include_cancelled=include_cancelled)


# --- availability ----------------------------------------------------------------------


@admin_availability.get("", responses=SLOTS)
def admin_open_slots(
    ctx: BookingsRead,
    session: TenantSession,
    service_id: uuid.UUID,
    from_: FromDay,
    to: ToDay = None,
    assignee_id: Annotated[
        uuid.UUID | None, Query(description="Only this team member's free time.")
    ] = None,
) -> Availability:
    """Open slots for an active service over the tenant's days ``from``..``to``: the
    starts a booking would be accepted at now (opening hours, slot grid, notice,
    advance, buffer, and someone free — or the given assignee)."""
    return service.open_slots(
        session, service_id=service_id, first=from_, last=to, assignee_id=assignee_id
    )


@portal_availability.get("", responses=SLOTS)
def portal_open_slots(
    client: PortalClient,
    session: TenantSession,
    service_id: uuid.UUID,
    from_: FromDay,
    to: ToDay = None,
) -> Availability:
    """Open slots for an active service over the tenant's days ``from``..``to``, in the
    tenant's time zone: exactly the times ``POST /api/portal/bookings`` accepts now."""
    return service.open_slots(session, service_id=service_id, first=from_, last=to)


routers = [admin_router, portal_router, calendar_router, admin_availability, portal_availability]

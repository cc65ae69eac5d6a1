"""GET /api/admin/calendar: bookings in a date range, for the staff calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime

from tenantry.auth.dependencies import TenantSession, tenant_router
from tenantry.bookings import service
from tenantry.bookings.routes import AUTH, BookingsRead
from tenantry.bookings.schemas import CalendarEntry

router = tenant_router(prefix="/api/admin/calendar", tags=["calendar"])


@router.get(
    "",
    response_model=list[CalendarEntry],
    responses={
        **AUTH,
        422: {"description": "Missing or invalid from/to, invalid_time_range, range_too_long"},
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

"""Bookings: who and what a booking may point at, its status machine, and the rules
about *when* (``rules``: past, notice, advance, opening hours, slot grid) and *who is
free* (``availability``: overlap, buffer, capacity), applied to every caller alike —
portal, admin, request conversion and the API. The client's cancellation policy too.

Services flush and never commit (the request commits once).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from tenantry.bookings import availability
from tenantry.bookings import repository as repo
from tenantry.bookings.errors import (
    CancellationNotAllowed,
    CancellationTooLate,
    InvalidTimeRange,
    RangeTooLong,
)
from tenantry.bookings.models import Booking
from tenantry.bookings.repository import bookings, by_start
from tenantry.bookings.rules import Rules, check_time
from tenantry.bookings.schemas import (
    Availability,
    BookingCreate,
    BookingStats,
    CalendarEntry,
    OpenSlot,
    PortalBookingCreate,
)
from tenantry.kit.cache import tenant_cache
from tenantry.kit.errors import (
    InvalidTransition,
    RecordClosed,
    UnknownAssignee,
    UnknownClient,
    UnknownService,
)
from tenantry.kit.members import STAFF_ROLES, find_member
from tenantry.kit.pagination import Page, PageParams
from tenantry.services import repository as services

STATS_KEY = "bookings.stats"
PENDING_KEY = "bookings.pending_count"
CALENDAR_MAX_DAYS = 62

# status → statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "cancelled"}),
    "confirmed": frozenset({"completed", "cancelled"}),
    "cancelled": frozenset(),
    "completed": frozenset(),
}


def _changed(session: Session) -> None:
    tenant_cache.invalidate_on_commit(session, STATS_KEY, PENDING_KEY)


def now() -> datetime:
    return datetime.now(UTC)


def list_bookings(
    session: Session,
    *,
    filters: repo.BookingFilters,
    owner: uuid.UUID | None = None,
    latest_first: bool = False,
    page: PageParams,
) -> Page[Booking]:
    """The tenant's bookings; with ``owner``, that client's own."""
    return bookings.page(session, by_start(filters, owner=owner, latest_first=latest_first), page)


def _span(
    starts_at: datetime, ends_at: datetime | None, length: timedelta
) -> tuple[datetime, datetime]:
    """The booking's start and end; without ``ends_at`` it lasts ``length``."""
    try:
        end = ends_at if ends_at is not None else starts_at + length
    except OverflowError as exc:  # starts_at near the end of year 9999
        raise InvalidTimeRange("The booking would end beyond the supported dates.") from exc
    if end <= starts_at:
        raise InvalidTimeRange()
    return starts_at, end


def _check_people(
    session: Session,
    *,
    rules: Rules,
    assignee_id: uuid.UUID | None,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: uuid.UUID | None = None,
) -> None:
    """A named assignee must be free (no overlap, buffer kept); without one, the
    bookable people must still have room for one more unassigned booking."""
    if assignee_id is None:
        availability.check_capacity(
            session, rules=rules, start=starts_at, end=ends_at, exclude_id=exclude_id
        )
        return
    # Locking the assignee's membership row serialises concurrent bookings of one
    # assignee, so two requests cannot both pass the overlap check.
    if find_member(session, user_id=assignee_id, roles=STAFF_ROLES, lock=True) is None:
        raise UnknownAssignee()
    availability.check_assignee_free(
        session,
        rules=rules,
        assignee_id=assignee_id,
        start=starts_at,
        end=ends_at,
        exclude_id=exclude_id,
    )


# --- staff ---------------------------------------------------------------------------


def create(
    session: Session,
    *,
    data: BookingCreate,
    service_request_id: uuid.UUID | None = None,
    active_service_only: bool = True,
    auto_assign: bool = False,
) -> Booking:
    """Book a client. Every rule applies (``rules.check_time``, then the people's
    time); ``auto_assign`` gives the booking to a bookable person who is free."""
    if find_member(session, user_id=data.client_id, roles=("client",)) is None:
        raise UnknownClient()
    service = services.find(session, service_id=data.service_id, active_only=active_service_only)
    if service is None:
        raise UnknownService()
    start, end = _span(data.starts_at, data.ends_at, timedelta(minutes=service.duration_minutes))
    assignee_id = data.assignee_id
    current_rules = rules(session)
    check_time(current_rules, start=start, end=end, now=now())
    if auto_assign and assignee_id is None:
        assignee_id = availability.pick_free_person(
            session, rules=current_rules, start=start, end=end
        )
    else:
        _check_people(
            session, rules=current_rules, assignee_id=assignee_id, starts_at=start, ends_at=end
        )
    booking = Booking(
        client_id=data.client_id,
        service_id=service.id,
        assignee_id=assignee_id,
        service_request_id=service_request_id,
        starts_at=start,
        ends_at=end,
        status=data.status,
        notes=data.notes,
    )
    bookings.add(session, booking)
    _changed(session)
    return booking


def reschedule(
    session: Session, *, booking_id: uuid.UUID, starts_at: datetime, ends_at: datetime | None
) -> Booking:
    """Move a pending or confirmed booking; without ``ends_at`` it keeps its length."""
    booking = bookings.for_update(session, booking_id)
    if booking.status not in repo.ACTIVE_STATUSES:
        raise RecordClosed("Only pending or confirmed bookings can be rescheduled.")
    start, end = _span(starts_at, ends_at, booking.ends_at - booking.starts_at)
    current_rules = rules(session)
    check_time(current_rules, start=start, end=end, now=now())
    _check_people(
        session,
        rules=current_rules,
        assignee_id=booking.assignee_id,
        starts_at=start,
        ends_at=end,
        exclude_id=booking.id,
    )
    booking.starts_at, booking.ends_at = start, end
    bookings.flush(session)
    _changed(session)
    return booking


def _move(booking: Booking, to: str) -> None:
    if to not in TRANSITIONS[booking.status]:
        raise InvalidTransition(f"A {booking.status} booking cannot become {to}.")
    booking.status = to


def _append_note(booking: Booking, line: str) -> None:
    booking.notes = f"{booking.notes}\n{line}" if booking.notes else line


def set_status(session: Session, *, booking_id: uuid.UUID, to: str) -> Booking:
    booking = bookings.for_update(session, booking_id)
    _move(booking, to)
    bookings.flush(session)
    _changed(session)
    return booking


def cancel(session: Session, *, booking_id: uuid.UUID, reason: str) -> Booking:
    booking = bookings.for_update(session, booking_id)
    _move(booking, "cancelled")
    _append_note(booking, f"Cancelled: {reason}")
    bookings.flush(session)
    _changed(session)
    return booking


# --- portal (the client's own bookings) ---------------------------------------------


@dataclass(frozen=True)
class Policy:
    allow_client_cancellation: bool = True
    cancellation_notice_hours: int = 24


S = TypeVar("S", Rules, Policy)


def rules(session: Session) -> Rules:
    """The tenant's rules about when bookings may be made (defaults without a row)."""
    return _from_settings(Rules, session)


def policy(session: Session) -> Policy:
    """The tenant's booking settings, or the defaults when it has no row."""
    return _from_settings(Policy, session)


def _from_settings(kind: type[S], session: Session) -> S:
    """``kind`` from the same-named columns of the tenant's booking settings row."""
    row = repo.booking_settings(session)
    if row is None:
        return kind()
    return kind(**{f.name: getattr(row, f.name) for f in fields(kind)})


def create_for_client(
    session: Session, *, client_id: uuid.UUID, data: PortalBookingCreate
) -> Booking:
    """A client books for themselves: the same rules as anyone, and the booking goes
    to a bookable person who is free then."""
    booking = BookingCreate(
        client_id=client_id, service_id=data.service_id, starts_at=data.starts_at, notes=data.notes
    )
    return create(session, data=booking, auto_assign=True)


def cancel_for_client(
    session: Session, *, owner: uuid.UUID, booking_id: uuid.UUID, reason: str
) -> Booking:
    booking = bookings.for_update(session, booking_id, owner=owner)
    rules = policy(session)
    if not rules.allow_client_cancellation:
        raise CancellationNotAllowed()
    if booking.status not in repo.ACTIVE_STATUSES:
        raise InvalidTransition(f"A {booking.status} booking cannot be cancelled.")
    if booking.starts_at - now() < timedelta(hours=rules.cancellation_notice_hours):
        raise CancellationTooLate(
            f"Cancel at least {rules.cancellation_notice_hours} hours ahead online."
        )
    _move(booking, "cancelled")
    _append_note(
        booking, f"Cancelled by the client: {reason}" if reason else "Cancelled by the client."
    )
    bookings.flush(session)
    _changed(session)
    return booking


# --- reports -------------------------------------------------------------------------


def stats(session: Session) -> BookingStats:
    def load() -> BookingStats:
        counts = repo.counts_by_status(session)
        start = now()
        return BookingStats(
            by_status={s: counts.get(s, 0) for s in TRANSITIONS},
            upcoming_7_days=repo.count_active_between(
                session, start=start, end=start + timedelta(days=7)
            ),
            estimated_revenue_cents=repo.price_sum(
                session, statuses=("pending", "confirmed", "completed")
            ),
            completed_revenue_cents=repo.price_sum(session, statuses=("completed",)),
        )

    return tenant_cache.get_or_load(STATS_KEY, load)


def pending_count(session: Session) -> int:
    return tenant_cache.get_or_load(
        PENDING_KEY, lambda: repo.count_with_status(session, status="pending")
    )


def calendar(
    session: Session, *, start: datetime, end: datetime, include_cancelled: bool = False
) -> list[CalendarEntry]:
    if end <= start:
        raise InvalidTimeRange("to must be after from.")
    if end - start > timedelta(days=CALENDAR_MAX_DAYS):
        raise RangeTooLong(f"The range may span at most {CALENDAR_MAX_DAYS} days.")
    found = repo.in_range(session, start=start, end=end, include_cancelled=include_cancelled)
    return [CalendarEntry.model_validate(row) for row in found]


# --- availability --------------------------------------------------------------------


def open_slots(
    session: Session,
    *,
    service_id: uuid.UUID,
    first: date,
    last: date | None = None,
    assignee_id: uuid.UUID | None = None,
) -> Availability:
    """The starts a booking of this active service would be accepted at, over the
    tenant's local days ``first`` to ``last`` (default: a week)."""
    service = services.find(session, service_id=service_id, active_only=True)
    if service is None:
        raise UnknownService()
    if assignee_id is not None and (
        find_member(session, user_id=assignee_id, roles=STAFF_ROLES) is None
    ):
        raise UnknownAssignee()
    current = rules(session)
    end_day = last if last is not None else first + timedelta(days=6)
    slots = availability.open_slots(
        session,
        rules=current,
        first=first,
        last=end_day,
        length=timedelta(minutes=service.duration_minutes),
        now=now(),
        assignee_id=assignee_id,
    )
    return Availability(
        service_id=service.id,
        timezone=current.timezone,
        duration_minutes=service.duration_minutes,
        slot_minutes=current.slot_minutes,
        from_=first,
        to=end_day,
        slots=[OpenSlot(starts_at=s.starts_at, ends_at=s.ends_at) for s in slots],
    )

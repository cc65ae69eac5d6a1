"""Bookings: the kit's repository (the client owns a booking), the list statement and
the queries of the booking rules and reports. No tenant filter is written here (the
ORM guard and RLS scope every statement); ``owner`` is the portal's ownership rule."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership
from tenantry.bookings.models import Booking
from tenantry.kit.errors import UnknownBooking
from tenantry.kit.repository import Repository, built_once, where_given
from tenantry.services.models import Service
from tenantry.tenant_settings.models import BookingSettings

ACTIVE_STATUSES = ("pending", "confirmed")

bookings = Repository(
    Booking, owner=Booking.client_id, not_found="No such booking.", unknown=UnknownBooking
)


def for_request(session: Session, *, service_request_id: uuid.UUID) -> Booking | None:
    return session.scalar(
        select(Booking).where(Booking.service_request_id == service_request_id).limit(1)
    )


@dataclass(frozen=True)
class BookingFilters:
    status: str | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    client_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None


@built_once
def by_start(
    f: BookingFilters, *, owner: uuid.UUID | None = None, latest_first: bool = False
) -> Select[Booking]:
    """Soonest first (or latest first), filtered; ``owner`` limits it to one client's."""
    order = (
        (Booking.starts_at.desc(), Booking.id.desc())
        if latest_first
        else (Booking.starts_at, Booking.id)
    )
    stmt = bookings.select(owner=owner).order_by(*order)
    if f.starts_from is not None:
        stmt = stmt.where(Booking.starts_at >= f.starts_from)
    if f.starts_before is not None:
        stmt = stmt.where(Booking.starts_at < f.starts_before)
    return where_given(
        stmt,
        (Booking.status, f.status),
        (Booking.client_id, f.client_id),
        (Booking.assignee_id, f.assignee_id),
        (Booking.service_id, f.service_id),
    )


def overlaps(
    session: Session,
    *,
    assignee_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: uuid.UUID | None = None,
) -> bool:
    """Does the assignee hold a pending or confirmed booking that intersects the span?"""
    stmt = select(Booking.id).where(
        Booking.assignee_id == assignee_id,
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.starts_at < ends_at,
        Booking.ends_at > starts_at,
    )
    if exclude_id is not None:
        stmt = stmt.where(Booking.id != exclude_id)
    return session.scalar(stmt.limit(1)) is not None


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Booking.status, func.count()).group_by(Booking.status)).all()
    return {status: count for status, count in rows}


def count_active_between(session: Session, *, start: datetime, end: datetime) -> int:
    total = session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.starts_at >= start,
            Booking.starts_at < end,
        )
    )
    return total or 0


def price_sum(session: Session, *, statuses: tuple[str, ...]) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Service.price_cents), 0))
        .select_from(Booking)
        .join(Booking.service)
        .where(Booking.status.in_(statuses))
    )
    return int(total or 0)


def count_with_status(session: Session, *, status: str) -> int:
    total = session.scalar(
        select(func.count()).select_from(Booking).where(Booking.status == status)
    )
    return total or 0


def in_range(
    session: Session, *, start: datetime, end: datetime, include_cancelled: bool
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Bookings that intersect [start, end) with their service's name, in the columns of
    a calendar entry (``CalendarEntry``)."""
    stmt = (
        select(
            Booking.id,
            Booking.starts_at,
            Booking.ends_at,
            Booking.status,
            Booking.service_id,
            Service.name.label("service_name"),
            Booking.client_id,
            Booking.assignee_id,
            Booking.service_request_id,
        )
        .join(Booking.service)
        .where(Booking.starts_at < end, Booking.ends_at > start)
        .order_by(Booking.starts_at, Booking.id)
    )
    if not include_cancelled:
        stmt = stmt.where(Booking.status != "cancelled")
    return session.execute(stmt).all()


def booking_settings(session: Session) -> BookingSettings | None:
    """The tenant's booking settings row, if it has one (a per-tenant singleton)."""
    return session.scalar(select(BookingSettings).limit(1))


def bookable_members(session: Session) -> list[uuid.UUID]:
    """Who takes bookings: the active members with the ``staff`` role, or, in a business
    that has none (an owner working alone), its owners and admins. Stable order."""
    rows = session.execute(
        select(Membership.user_id, Membership.role)
        .where(Membership.status == "active", Membership.role.in_(("owner", "admin", "staff")))
        .order_by(Membership.user_id)
    ).all()
    staff = [user_id for user_id, role in rows if role == "staff"]
    return staff or [user_id for user_id, _ in rows]


def lock_members(session: Session, *, user_ids: list[uuid.UUID]) -> None:
    """Row locks on these memberships, always in the same order (no deadlock): two
    bookings that could take the same person's time then run one after the other."""
    if user_ids:
        session.execute(
            select(Membership.user_id)
            .where(Membership.user_id.in_(user_ids))
            .order_by(Membership.user_id)
            .with_for_update()
        ).all()


@dataclass(frozen=True)
class Busy:
    assignee_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime


def busy_between(
    session: Session, *, start: datetime, end: datetime, exclude_id: uuid.UUID | None = None
) -> list[Busy]:
    """Pending and confirmed bookings that intersect [start, end): the time they take."""
    stmt = select(Booking.assignee_id, Booking.starts_at, Booking.ends_at).where(
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.starts_at < end,
        Booking.ends_at > start,
    )
    if exclude_id is not None:
        stmt = stmt.where(Booking.id != exclude_id)
    return [Busy(a, s, e) for a, s, e in session.execute(stmt).all()]

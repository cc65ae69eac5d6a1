"""Who is free when: the capacity half of the booking rules, and the open slots.

A person is busy over their pending and confirmed bookings, widened on both sides by
the tenant's buffer (travel, tidying up). A slot is open for a named assignee when
they are free; for "anyone" when more bookable people are free than there are
unassigned bookings over the same time (each of those will need someone).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.bookings import repository as repo
from tenantry.bookings.rules import BookingRuleBroken, Rules, candidate_starts
from tenantry.errors import InvalidInput

MAX_RANGE_DAYS = 31


class SlotTaken(BookingRuleBroken):
    code = "slot_taken"
    message = "This person already has a booking at this time; choose another time."


class WithinBuffer(BookingRuleBroken):
    code = "within_buffer"
    message = "This is too close to another booking of this person."


class NoOneAvailable(BookingRuleBroken):
    code = "no_one_available"
    message = "Nobody is free at this time any more; choose another slot."


class AvailabilityRangeInvalid(InvalidInput):
    code = "invalid_date_range"
    message = f"Ask for 1 to {MAX_RANGE_DAYS} days, the last not before the first."


@dataclass(frozen=True)
class Diary:
    """The busy time around a period, ready to ask "who is free for [start, end)?"."""

    busy: list[repo.Busy]
    people: list[uuid.UUID]
    buffer: timedelta

    def _hits(self, item: repo.Busy, start: datetime, end: datetime) -> bool:
        return item.starts_at < end + self.buffer and item.ends_at > start - self.buffer

    def free(self, start: datetime, end: datetime) -> list[uuid.UUID]:
        taken = {b.assignee_id for b in self.busy if b.assignee_id and self._hits(b, start, end)}
        return [p for p in self.people if p not in taken]

    def unassigned(self, start: datetime, end: datetime) -> int:
        return sum(1 for b in self.busy if b.assignee_id is None and self._hits(b, start, end))

    def open_for_anyone(self, start: datetime, end: datetime) -> bool:
        return len(self.free(start, end)) > self.unassigned(start, end)


def diary(
    session: Session,
    *,
    rules: Rules,
    start: datetime,
    end: datetime,
    people: list[uuid.UUID],
    exclude_id: uuid.UUID | None = None,
) -> Diary:
    busy = repo.busy_between(
        session, start=start - rules.buffer, end=end + rules.buffer, exclude_id=exclude_id
    )
    return Diary(busy=busy, people=people, buffer=rules.buffer)


def check_assignee_free(
    session: Session,
    *,
    rules: Rules,
    assignee_id: uuid.UUID,
    start: datetime,
    end: datetime,
    exclude_id: uuid.UUID | None = None,
) -> None:
    """The named person has no booking over the span (slot_taken) nor within the
    buffer around it (within_buffer). The caller holds their membership row lock."""
    exact = Diary(
        busy=repo.busy_between(session, start=start, end=end, exclude_id=exclude_id),
        people=[assignee_id],
        buffer=timedelta(0),
    )
    if not exact.free(start, end):
        raise SlotTaken()
    if rules.buffer_minutes and not diary(
        session, rules=rules, start=start, end=end, people=[assignee_id], exclude_id=exclude_id
    ).free(start, end):
        raise WithinBuffer(
            f"This person needs {rules.buffer_minutes} minutes between bookings; "
            "choose another time."
        )


def pick_free_person(
    session: Session,
    *,
    rules: Rules,
    start: datetime,
    end: datetime,
    exclude_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Lock the bookable people and return one who is free over the span (and leaves
    room for the unassigned bookings there), else ``no_one_available``."""
    people = repo.bookable_members(session)
    repo.lock_members(session, user_ids=people)
    around = diary(session, rules=rules, start=start, end=end, people=people, exclude_id=exclude_id)
    free = around.free(start, end)
    if len(free) <= around.unassigned(start, end):
        raise NoOneAvailable()
    return free[0]


def check_capacity(
    session: Session,
    *,
    rules: Rules,
    start: datetime,
    end: datetime,
    exclude_id: uuid.UUID | None = None,
) -> None:
    """An unassigned booking over the span still leaves someone for each of them."""
    people = repo.bookable_members(session)
    repo.lock_members(session, user_ids=people)
    around = diary(session, rules=rules, start=start, end=end, people=people, exclude_id=exclude_id)
    if not around.open_for_anyone(start, end):
        raise NoOneAvailable()


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    free: int


def open_slots(
    session: Session,
    *,
    rules: Rules,
    first: date,
    last: date,
    length: timedelta,
    now: datetime,
    assignee_id: uuid.UUID | None = None,
) -> list[Slot]:
    """Every start that a booking of ``length`` would be accepted at, from local day
    ``first`` to ``last``: on the grid, in opening hours, inside the booking window and
    with someone free (``assignee_id``: that person)."""
    if last < first or (last - first).days >= MAX_RANGE_DAYS:
        raise AvailabilityRangeInvalid()
    starts = list(candidate_starts(rules, first=first, last=last, length=length, now=now))
    if not starts:
        return []
    people = [assignee_id] if assignee_id is not None else repo.bookable_members(session)
    around = diary(
        session, rules=rules, start=starts[0], end=_after(starts[-1], length), people=people
    )
    slots: list[Slot] = []
    for start in starts:
        end = _after(start, length)
        free = around.free(start, end)
        spare = len(free) if assignee_id is not None else len(free) - around.unassigned(start, end)
        if spare > 0:
            slots.append(Slot(starts_at=start, ends_at=end, free=spare))
    return slots


def _after(start: datetime, length: timedelta) -> datetime:
    """``start + length`` in elapsed time (aware arithmetic in one zone is wall-clock
    time, which is off by an hour across a daylight-saving change)."""
    return (start.astimezone(UTC) + length).astimezone(start.tzinfo)

"""The booking rules as pure functions of the tenant's booking settings and a clock.

Every booking, from the portal, the admin pages, request conversion or the API, goes
through ``check_time`` (and the capacity checks in ``availability``), and the open
slots offered to people come from ``candidate_starts`` — so what is offered is exactly
what will be accepted.

Times are kept in UTC; opening hours and the slot grid are wall-clock times in the
tenant's time zone, so a 09:00 opening stays 09:00 across daylight-saving changes.
No opening hours configured means open all day, every day (a new tenant can take
bookings before it sets hours); once any day has hours, a day without any is closed.

There is no back-dating, not even for admins: a booking is a plan. Work already done
is recorded as a work order or invoiced directly.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from tenantry.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


# --- the errors (all 422: the time asked for breaks a rule, the input is at fault) ---


class BookingRuleBroken(InvalidInput):
    """A booking rule the time asked for breaks; each rule has its own code."""


class BookingInPast(BookingRuleBroken):
    code = "booking_in_past"
    message = "This time has already passed; choose a time in the future."


class NoticeTooShort(BookingRuleBroken):
    code = "notice_too_short"
    message = "This time is too soon; book further ahead."


class TooFarAhead(BookingRuleBroken):
    code = "too_far_ahead"
    message = "This time is too far ahead; choose an earlier date."


class OutsideBusinessHours(BookingRuleBroken):
    code = "outside_business_hours"
    message = "The business is closed at this time."


class OffSlotGrid(BookingRuleBroken):
    code = "off_slot_grid"
    message = "Bookings start on the business's slot times."


# --- the settings the rules read ------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    timezone: str = "UTC"
    slot_minutes: int = 30
    min_notice_minutes: int = 60
    max_advance_days: int = 90
    buffer_minutes: int = 0
    business_hours: Mapping[str, Sequence[Sequence[str]]] = field(default_factory=dict)

    @property
    def zone(self) -> tzinfo:
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # validated on save; be safe
            return zoneinfo.ZoneInfo("UTC")

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)

    def earliest(self, now: datetime) -> datetime:
        return now + timedelta(minutes=self.min_notice_minutes)

    def latest(self, now: datetime) -> datetime:
        return now + timedelta(days=self.max_advance_days)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def opening_intervals(rules: Rules, day: date) -> list[tuple[datetime, datetime]]:
    """The opening intervals of a local calendar day, as aware datetimes in the
    tenant's zone (all day when no hours are configured at all)."""
    zone = rules.zone
    if not rules.business_hours:
        start = datetime.combine(day, time(0, 0), tzinfo=zone)
        return [(start, datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone))]
    spans = rules.business_hours.get(WEEKDAYS[day.weekday()], [])
    return [
        (
            datetime.combine(day, _clock(opens), tzinfo=zone),
            datetime.combine(day, _clock(closes), tzinfo=zone),
        )
        for opens, closes in spans
    ]


def _utc(moment: datetime) -> datetime:
    # Arithmetic on aware datetimes of one zoneinfo zone is wall-clock arithmetic;
    # comparing in UTC is exact.
    return moment.astimezone(zoneinfo.ZoneInfo("UTC"))


def describe_hours(rules: Rules, day: date) -> str:
    spans = rules.business_hours.get(WEEKDAYS[day.weekday()], [])
    name = DAY_NAMES[WEEKDAYS[day.weekday()]]
    if not spans:
        return f"The business is closed on {name}s."
    hours = ", ".join(f"{a} to {b}" for a, b in spans)
    return f"On {name}s the business is open {hours} ({rules.timezone})."


def check_time(rules: Rules, *, start: datetime, end: datetime, now: datetime) -> None:
    """Refuse a span that breaks a rule about *when* (capacity is checked elsewhere).

    The order is the one a person would want to hear: past, notice, advance, hours,
    grid."""
    if start < now:
        raise BookingInPast()
    if start < rules.earliest(now):
        raise NoticeTooShort(
            f"Book at least {_duration(rules.min_notice_minutes)} ahead; this time is too soon."
        )
    if start > rules.latest(now):
        raise TooFarAhead(f"Book at most {rules.max_advance_days} days ahead.")
    local_start = start.astimezone(rules.zone)
    day = local_start.date()
    for opens, closes in opening_intervals(rules, day):
        # Without configured hours only the start must fall in the day (an evening
        # job may run past midnight); with hours the whole booking must fit.
        limit = (
            _utc(start) < _utc(closes) if not rules.business_hours else _utc(end) <= _utc(closes)
        )
        if _utc(opens) <= _utc(start) and limit:
            offset = (_utc(start) - _utc(opens)) % timedelta(minutes=rules.slot_minutes)
            if offset:
                raise OffSlotGrid(
                    f"Bookings start every {rules.slot_minutes} minutes from "
                    f"{opens.strftime('%H:%M')} ({rules.timezone})."
                )
            return
    raise OutsideBusinessHours(
        "The business is closed for part or all of this time. " + describe_hours(rules, day)
    )


def candidate_starts(
    rules: Rules, *, first: date, last: date, length: timedelta, now: datetime
) -> Iterator[datetime]:
    """Every start on the grid, within opening hours and the booking window, from the
    local day ``first`` to ``last`` inclusive, as aware datetimes in the tenant's zone.
    Each one passes ``check_time`` for a booking of ``length``."""
    step = timedelta(minutes=rules.slot_minutes)
    earliest, latest = rules.earliest(now), rules.latest(now)
    day = first
    while day <= last:
        for opens, closes in opening_intervals(rules, day):
            moment = _utc(opens)
            closing = _utc(closes)
            # Same rule as check_time: without configured hours only the start counts.
            fits = length if rules.business_hours else timedelta(microseconds=1)
            while moment + fits <= closing:
                if earliest <= moment <= latest and moment >= now:
                    yield moment.astimezone(rules.zone)
                moment += step
        day += timedelta(days=1)


def _duration(minutes: int) -> str:
    if minutes % (60 * 24) == 0 and minutes >= 60 * 24:
        days = minutes // (60 * 24)
        return f"{days} day" + ("s" if days != 1 else "")
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{minutes} minute" + ("s" if minutes != 1 else "")

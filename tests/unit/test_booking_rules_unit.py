"""The booking rules as pure functions: wall-clock hours across daylight-saving changes,
and the promise that every candidate start passes the check."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from tenantry.bookings.rules import (
    OffSlotGrid,
    OutsideBusinessHours,
    Rules,
    candidate_starts,
    check_time,
)

NY = zoneinfo.ZoneInfo("America/New_York")
RULES = Rules(
    timezone="America/New_York",
    slot_minutes=45,
    min_notice_minutes=0,
    max_advance_days=400,
    business_hours={"sun": [["09:00", "12:00"]], "mon": [["08:00", "10:00"], ["14:00", "15:30"]]},
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_opening_hours_stay_local_across_a_daylight_saving_change() -> None:
    # 2026-03-08 is the Sunday clocks go forward in New York.
    for day in (date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)):
        starts = list(
            candidate_starts(RULES, first=day, last=day, length=timedelta(hours=1), now=NOW)
        )
        assert [s.strftime("%H:%M") for s in starts] == ["09:00", "09:45", "10:30"]
        assert all(s.tzinfo is not None and s.astimezone(NY).hour >= 9 for s in starts)


def test_every_candidate_passes_the_check_and_the_grid_restarts_per_interval() -> None:
    monday = date(2026, 3, 9)
    starts = list(
        candidate_starts(RULES, first=monday, last=monday, length=timedelta(minutes=45), now=NOW)
    )
    assert [s.strftime("%H:%M") for s in starts] == ["08:00", "08:45", "14:00", "14:45"]
    for start in starts:
        check_time(RULES, start=start, end=start + timedelta(minutes=45), now=NOW)


def test_check_names_the_hours_and_the_grid() -> None:
    monday = datetime(2026, 3, 9, 8, 30, tzinfo=NY)
    with pytest.raises(OffSlotGrid, match="every 45 minutes from 08:00"):
        check_time(RULES, start=monday, end=monday + timedelta(minutes=45), now=NOW)
    tuesday = datetime(2026, 3, 10, 9, 0, tzinfo=NY)
    with pytest.raises(OutsideBusinessHours, match="closed on Tuesdays"):
        check_time(RULES, start=tuesday, end=tuesday + timedelta(minutes=45), now=NOW)


def test_without_hours_any_grid_time_is_open_and_may_run_past_midnight() -> None:
    rules = Rules(min_notice_minutes=0, max_advance_days=400)
    late = datetime(2026, 2, 1, 23, 30, tzinfo=UTC)
    check_time(rules, start=late, end=late + timedelta(hours=2), now=NOW)
    with pytest.raises(OffSlotGrid):
        check_time(
            rules, start=late + timedelta(minutes=10), end=late + timedelta(hours=2), now=NOW
        )

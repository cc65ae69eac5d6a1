"""The operator's plots keep every request: past ``SERIES`` tenants, the quiet ones are
summed into one ``other`` line instead of being dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tenantry.observability.summary import POINTS, SERIES, _bucketed

SINCE = datetime(2026, 11, 30, tzinfo=UTC)
STEP = timedelta(minutes=1)


def _rows(counts: dict[str, int]) -> list[tuple[datetime, str, int]]:
    return [(SINCE + STEP * (i % POINTS), t, n) for i, (t, n) in enumerate(counts.items())]


def test_a_few_tenants_get_a_line_each_busiest_first() -> None:
    series = _bucketed(_rows({"quiet": 1, "busy": 9, "mid": 4}), SINCE, STEP)
    assert [s.tenant for s in series] == ["busy", "mid", "quiet"]
    assert all(len(s.points) == POINTS for s in series)


def test_past_the_limit_the_rest_are_summed_into_other_and_nothing_is_lost() -> None:
    counts = {f"t{i:02d}": 100 - i for i in range(SERIES + 5)} | {"other": 3}
    series = _bucketed(_rows(counts), SINCE, STEP)
    assert len(series) == SERIES
    names = [s.tenant for s in series]
    assert names[:-1] == [f"t{i:02d}" for i in range(SERIES - 1)]
    assert names[-1] == "other"
    total = sum(p[1] for s in series for p in s.points)
    assert total == sum(counts.values())
    tail = sum(counts[f"t{i:02d}"] for i in range(SERIES - 1, SERIES + 5)) + 3
    assert sum(p[1] for p in series[-1].points) == tail

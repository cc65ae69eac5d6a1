"""The backfill's table scheduler: parents done before children open, independent work
side by side on the connections, a failure stops the run."""

from __future__ import annotations

import itertools
import threading

import pytest

from tenantry.legacy.schedule import TableWork, descendants, run_tables

# a -> b -> d, a -> c; e stands alone
WAITS = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b"}, "e": set()}


class Recorder:
    def __init__(self, slices: int = 2, done: set[str] | None = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.slices, self.done = slices, done or set()
        self.ids = itertools.count()
        self.opened: list[int] = []
        self.closed: list[int] = []

    def log(self, kind: str, table: str) -> None:
        with self.lock:
            self.events.append((kind, table))

    def open(self, conn: int, table: str):  # type: ignore[no-untyped-def]
        self.log("open", table)
        if table in self.done:
            return None
        return [lambda c, t=table, i=i: self.log(f"slice{i}", t) for i in range(self.slices)]

    def finish(self, conn: int, table: str) -> None:
        self.log("finish", table)

    def connect(self) -> int:
        conn = next(self.ids)
        self.opened.append(conn)
        return conn

    def run(self, waits: dict[str, set[str]], jobs: int = 2) -> None:
        run_tables(
            waits,
            TableWork(self.open, self.finish),
            jobs=jobs,
            connect=self.connect,
            close=self.closed.append,
        )

    def at(self, kind: str, table: str) -> int:
        return self.events.index((kind, table))


def test_descendants_counts_every_table_below() -> None:
    assert descendants(WAITS) == {"a": 3, "b": 1, "c": 0, "d": 0, "e": 0}


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_a_table_opens_only_after_its_parents_finished(jobs: int) -> None:
    rec = Recorder()
    rec.run(WAITS, jobs)
    for table, parents in WAITS.items():
        assert rec.at("open", table) < rec.at("slice0", table) < rec.at("finish", table)
        assert rec.at("open", table) < rec.at("slice1", table) < rec.at("finish", table)
        for parent in parents:
            assert rec.at("finish", parent) < rec.at("open", table), (parent, table)
    assert len(rec.events) == 4 * len(WAITS)
    # one connection per worker at most, every one closed
    assert 1 <= len(rec.opened) <= jobs
    assert sorted(rec.closed) == rec.opened


def test_independent_tables_run_side_by_side() -> None:
    """a and e do not depend on each other: their slices meet at a barrier, which only
    two steps running at the same time can pass."""
    barrier = threading.Barrier(2, timeout=10)
    rec = Recorder()

    def open_(conn: int, table: str):  # type: ignore[no-untyped-def]
        rec.log("open", table)
        return [lambda c: barrier.wait()] if table in {"a", "e"} else []

    run_tables(
        {"a": set(), "e": set()},
        TableWork(open_, rec.finish),
        jobs=2,
        connect=rec.connect,
        close=rec.closed.append,
    )
    assert {("finish", "a"), ("finish", "e")} <= set(rec.events)


def test_the_table_most_wait_for_goes_first() -> None:
    rec = Recorder(slices=1)
    rec.run({"lone": set(), **WAITS}, jobs=1)
    assert rec.events[0] == ("open", "a")


def test_a_table_done_earlier_releases_its_children() -> None:
    rec = Recorder(done={"a"})
    rec.run(WAITS)
    assert ("finish", "a") not in rec.events
    assert rec.at("open", "a") < rec.at("open", "b")
    assert rec.at("finish", "b") < rec.at("open", "d")


def test_a_table_without_slices_is_finished_and_a_parent_outside_counts_as_done() -> None:
    rec = Recorder(slices=0)
    rec.run({"b": {"a"}})  # a is not part of this run (backfill --table b)
    assert rec.events == [("open", "b"), ("finish", "b")]


def test_a_failing_step_stops_the_run_and_its_children_never_open() -> None:
    rec = Recorder()

    def finish(conn: int, table: str) -> None:
        rec.log("finish", table)
        if table == "b":
            raise RuntimeError("batch failed")

    with pytest.raises(RuntimeError, match="batch failed"):
        run_tables(
            WAITS,
            TableWork(rec.open, finish),
            jobs=2,
            connect=rec.connect,
            close=rec.closed.append,
        )
    assert ("open", "d") not in rec.events
    assert sorted(rec.closed) == rec.opened

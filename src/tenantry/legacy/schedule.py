"""Tables' work on a few connections at once, each table after the tables it derives from.

The backfill of a table reads its parents' tenants, so a table starts only when every
parent is *done* (swept and caught up). Tables that do not depend on each other run side
by side, and a big table's slices too: with two connections, both stay busy while the
dependencies allow it — not only during the big tables' sweeps.

A table's work comes in three kinds of steps: ``open`` (count, cut into slices; returns
the slices' steps, or None when the table was already done), the slices, and ``finish``
(the catch-up pass, then the table is done). Among the steps that may run, the ones of
the table that the most other tables wait for go first, ``finish`` before slices before
``open``, so the way to the children is cleared first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C")  # a connection (anything a step runs on)

Step = Callable[[C], None]


@dataclass(frozen=True)
class TableWork(Generic[C]):
    open: Callable[[C, str], list[Step[C]] | None]
    finish: Callable[[C, str], None]


def descendants(waits_for: dict[str, set[str]]) -> dict[str, int]:
    """How many tables wait, directly or not, for each table."""
    children: dict[str, set[str]] = {t: set() for t in waits_for}
    for table, parents in waits_for.items():
        for parent in parents:
            children.setdefault(parent, set()).add(table)

    def below(table: str, seen: set[str]) -> set[str]:
        for child in children.get(table, ()):
            if child not in seen:
                seen.add(child)
                below(child, seen)
        return seen

    return {t: len(below(t, set())) for t in waits_for}


@contextmanager
def _connections(connect: Callable[[], C], close: Callable[[C], None]) -> Iterator[Callable[[], C]]:
    """One connection per worker thread, opened on first use, all closed at the end."""
    local = threading.local()
    opened: list[C] = []
    lock = threading.Lock()

    def get() -> C:
        conn: C | None = getattr(local, "conn", None)
        if conn is None:
            conn = connect()
            local.conn = conn
            with lock:
                opened.append(conn)
        return conn

    try:
        yield get
    finally:
        for conn in opened:
            close(conn)


_RANK = {"finish": 0, "slice": 1, "open": 2}


def run_tables(
    waits_for: dict[str, set[str]],
    work: TableWork[C],
    *,
    jobs: int,
    connect: Callable[[], C],
    close: Callable[[C], None],
) -> None:
    """Run every table's work, at most ``jobs`` steps at a time. ``waits_for``: table ->
    the tables that must be done before it opens (a table not in ``waits_for`` counts as
    done). The first step that fails stops the run once the running steps have ended."""
    jobs = max(1, jobs)
    weight = descendants(waits_for)
    done: set[str] = set()
    opened: set[str] = set()
    slices_left: dict[str, int] = {}
    ready: list[tuple[str, str, Step[C] | None]] = []  # (kind, table, slice step)

    def release() -> None:
        for table, parents in waits_for.items():
            if table not in opened and all(p in done or p not in waits_for for p in parents):
                opened.add(table)
                ready.append(("open", table, None))

    def call(kind: str, table: str, step: Step[C] | None) -> list[Step[C]] | None:
        conn = conn_of()
        if kind == "open":
            return work.open(conn, table)
        if kind == "finish":
            work.finish(conn, table)
        elif step is not None:
            step(conn)
        return None

    release()
    failure: BaseException | None = None
    with (
        _connections(connect, close) as conn_of,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        running: dict[Future[list[Step[C]] | None], tuple[str, str]] = {}
        while (ready and failure is None) or running:
            while ready and failure is None and len(running) < jobs:
                ready.sort(key=lambda r: (-weight[r[1]], _RANK[r[0]]))
                kind, table, step = ready.pop(0)
                running[pool.submit(call, kind, table, step)] = (kind, table)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                kind, table = running.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                elif kind == "open":
                    steps = future.result()
                    if steps is None:  # done by an earlier run
                        done.add(table)
                        release()
                    elif steps:
                        slices_left[table] = len(steps)
                        ready.extend(("slice", table, s) for s in steps)
                    else:
                        ready.append(("finish", table, None))
                elif kind == "slice":
                    slices_left[table] -= 1
                    if not slices_left[table]:
                        ready.append(("finish", table, None))
                else:
                    done.add(table)
                    release()
    if failure is not None:
        raise failure

"""Counting round trips with libpq's protocol trace.

Each round trip ends with the server's ``ReadyForQuery`` message (after a simple
``Query`` or an extended-protocol ``Sync``), so the number of ``ReadyForQuery`` lines
the backend sent is the number of times the client waited for the server.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg.pq import Trace
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine

from tenantry.db.dialect import driver_of


class Trip:
    """Messages traced on one or more connections; ``count`` is their round trips."""

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="tenantry-trace-"))
        self._files: list[Any] = []

    def attach(self, conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
        handle = (self._folder / f"{len(self._files)}.trace").open("w")
        self._files.append(handle)
        conn.pgconn.trace(handle.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)

    @staticmethod
    def detach(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
        conn.pgconn.untrace()

    def lines(self) -> list[str]:
        """Every traced line (libpq flushes its trace when tracing stops: read after)."""
        out: list[str] = []
        for handle in self._files:
            out += Path(handle.name).read_text().splitlines()
        return out

    def per_connection(self) -> list[list[str]]:
        """The traced lines of each connection checkout, one list per checkout."""
        return [Path(handle.name).read_text().splitlines() for handle in self._files]

    @property
    def count(self) -> int:
        return sum(1 for line in self.lines() if line.startswith("B\t") and "ReadyForQuery" in line)

    def queries(self) -> list[str]:
        """What the client sent, one line per Query/Parse message (for failure messages)."""
        return [line for line in self.lines() if line.startswith("F\t") and
                ("\tQuery\t" in line or "\tParse\t" in line)]  # fmt: skip

    def close(self) -> None:
        for handle in self._files:
            handle.close()


@contextlib.contextmanager
def trace_engine(
    engine: Engine | AsyncEngine, *, except_threads: frozenset[str] = frozenset()
) -> Iterator[Trip]:
    """Trace every connection ``engine``'s pool hands out while the block runs (an
    async engine's: psycopg's async connection, behind SQLAlchemy's adapter), except
    those checked out on a thread named in ``except_threads``."""
    trip = Trip()
    if isinstance(engine, AsyncEngine):
        engine = engine.sync_engine

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if threading.current_thread().name in except_threads:
            return
        trip.attach(driver_of(dbapi_connection))

    def checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            trip.detach(driver_of(dbapi_connection))

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield trip
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        trip.close()

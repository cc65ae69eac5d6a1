"""The app's async cursor: psycopg's, with a ``description`` built only when read.

psycopg builds ``cursor.description`` afresh each time it is read: one ``Column`` per
field, each decoding its name and looking its type up — 15-18 µs of client CPU for a
12-column row (bench/README.md, api_throughput session 10). SQLAlchemy reads it once per
statement, but once a statement's result metadata is cached (every statement the app
runs more than once) it only checks that it is not ``None``. ``LazyDescription`` is a
sequence of the same ``Column``s, built from the result the cursor had when
``description`` was read (not whatever result the cursor holds later) on first use.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import pq
from psycopg.pq.abc import PGresult

_TUPLES = frozenset(
    {pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK}
)
# What psycopg's ``Column`` reads from the cursor it is given (3.3).
_COLUMN_READS = ("pgresult", "_encoding", "adapters")


class _Fields:
    """A cursor's result as ``psycopg.Column`` reads it, kept apart from the cursor."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: PGresult, encoding: str, adapters: Any) -> None:
        self.pgresult = pgresult
        self._encoding = encoding
        self.adapters = adapters


class LazyDescription(Sequence[psycopg.Column]):
    """``cursor.description`` as psycopg builds it, built on first use."""

    __slots__ = ("_columns", "_fields", "_n")

    def __init__(self, fields: _Fields, n: int) -> None:
        self._fields = fields
        self._n = n
        self._columns: list[psycopg.Column] | None = None

    def _list(self) -> list[psycopg.Column]:
        if self._columns is None:
            fields: Any = self._fields
            self._columns = [psycopg.Column(fields, i) for i in range(self._n)]
        return self._columns

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[psycopg.Column]: ...
    def __getitem__(self, index: int | slice) -> psycopg.Column | list[psycopg.Column]:
        return self._list()[index]

    def __iter__(self) -> Iterator[psycopg.Column]:
        return iter(self._list())

    def __repr__(self) -> str:
        return repr(self._list())


class DescribingAsyncCursor(psycopg.AsyncCursor[Any]):
    """psycopg's ``AsyncCursor`` whose ``description`` is a ``LazyDescription``."""

    @property
    def description(self) -> LazyDescription | None:  # type: ignore[override]
        # psycopg's own test: fields, or a result that said it returns tuples
        res = self.pgresult
        if res and (res.nfields or res.status in _TUPLES):
            return LazyDescription(_Fields(res, self._encoding, self.adapters), res.nfields)
        return None


def lazy_description() -> bool:
    """Whether this psycopg's ``Column`` reads what ``_Fields`` holds (3.3's)."""
    return psycopg.__version__.startswith("3.3.") and all(
        hasattr(psycopg.AsyncCursor, name) for name in _COLUMN_READS
    )

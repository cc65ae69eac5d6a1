"""What every legacy command starts from: the target schema, the live one, the rules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from tenantry.db.bootstrap import DatabaseUrls
from tenantry.legacy import state
from tenantry.legacy.catalogue import Snapshot, read_snapshot
from tenantry.legacy.connect import connect
from tenantry.legacy.reference import target_snapshot
from tenantry.legacy.rules import RuleError, TableRule, table_rules
from tenantry.legacy.shape import Shape, check_shape


class LegacyError(Exception):
    """A condition the operator must fix; the message says what and how."""


@dataclass
class Context:
    urls: DatabaseUrls
    head: str
    target: Snapshot
    live: Snapshot
    shape: Shape
    rules: list[TableRule]

    def refresh(self, conn: psycopg.Connection[Any]) -> None:
        self.live = read_snapshot(conn)
        conn.commit()
        self.shape = check_shape(self.target, self.live)

    @property
    def has_tenant(self) -> set[str]:
        return {n for n, t in self.live.tables.items() if "tenant_id" in t.columns}

    def require_shape(self) -> None:
        if self.shape.fatal:
            raise LegacyError(
                "this database is not in the legacy shape the toolkit handles "
                "(docs/legacy.md):\n  - " + "\n  - ".join(self.shape.fatal)
            )

    def select(self, tables: list[str] | None) -> list[TableRule]:
        if not tables:
            return self.rules
        known = {r.table for r in self.rules}
        unknown = [t for t in tables if t not in known]
        if unknown:
            raise LegacyError(
                f"not a tenant table: {', '.join(unknown)} (tenant tables: "
                f"{', '.join(sorted(known))})"
            )
        return [r for r in self.rules if r.table in tables]


def load(urls: DatabaseUrls, *, rebuild_reference: bool = False) -> Context:
    head, target = target_snapshot(urls, rebuild=rebuild_reference)
    try:
        rules = table_rules(target)
    except RuleError as exc:
        raise LegacyError(str(exc)) from exc
    with connect(urls.migrator) as conn:
        state.ensure(conn)
        live = read_snapshot(conn)
    return Context(urls, head, target, live, check_shape(target, live), rules)


# One journey command at a time per database: two backfills would race for the same
# checkpoints, two tightens would plan the same steps twice.
JOURNEY_LOCK = 0x7E4A_17C0


@contextlib.contextmanager
def exclusive(urls: DatabaseUrls, what: str) -> Iterator[None]:
    """Hold the database's journey lock (a session advisory lock) while ``what`` runs."""
    with connect(urls.migrator, autocommit=True) as conn:
        # a moment's wait: the server process of a run that was just killed lets go of
        # the lock only once it notices its client is gone
        conn.execute("SET lock_timeout = '3s'")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (JOURNEY_LOCK,))
        except psycopg.errors.LockNotAvailable:
            raise LegacyError(
                f"another tenantry legacy backfill or tighten is running on {urls.database}; "
                f"{what} waits for it to finish (tenantry legacy status shows where it is)"
            ) from None
        conn.execute("SET lock_timeout = 0")
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (JOURNEY_LOCK,))

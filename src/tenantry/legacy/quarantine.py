"""Quarantine: problem rows moved, with their reason, out of the business tables — and back.

Moving a row must never delete another one silently. A legacy foreign key may cascade
(``ON DELETE CASCADE`` / ``SET NULL``), and even without one a child left pointing at a
moved row would fail tighten's composite key. So before anything moves, every row that
references a problem row (through any relation of the target schema, transitively) is
marked too ("moved with parent"), and rows move children first, parents last. Each
batch deletes the rows and writes them to ``tenantry_legacy.quarantine`` as JSON in one
transaction; ``restore-quarantine`` writes them back, parents first.

Deleting a parent row makes PostgreSQL check each legacy foreign key that references it
(``SELECT ... FROM child WHERE x_id = $1``), once per row. Legacy foreign-key columns
are often unindexed, and then every moved row costs a full scan of every child table —
hours on a big table. So where many rows of a parent move and a child's column has no
index, one is built first (``CREATE INDEX CONCURRENTLY``: writers go on) and dropped
once the rows have moved.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import errors

from tenantry.legacy.catalogue import Snapshot
from tenantry.legacy.rules import TableRule
from tenantry.legacy.state import SCHEMA
from tenantry.legacy.tighten import _short, q

# A scan of the child per moved row costs about a third of an index build.
INDEX_FROM_ROWS = 4
_SINGLE_FK = re.compile(r"^FOREIGN KEY \((?P<col>\w+)\) REFERENCES (?P<parent>\w+)\(")
_LEADING = re.compile(r" USING \w+ \((?P<col>\w+)[,)]")


def mark_children(conn: psycopg.Connection[Any], rules: list[TableRule]) -> int:
    """Mark every row that references a problem row (parents first, so it is transitive)."""
    marked = 0
    for rule in rules:
        for rel in rule.parents:
            cur = conn.execute(
                f"INSERT INTO {SCHEMA}.problems (table_name, row_id, kind, reason, had_tenant) "
                f"SELECT %(t)s, t.id, 'with_parent', "
                f"'references ' || %(p)s || ' ' || t.{q(rel.column)} || ', which is quarantined', "
                f"t.tenant_id IS NOT NULL "
                f"FROM public.{q(rule.table)} t JOIN {SCHEMA}.problems p "
                f"ON p.table_name = %(p)s AND p.row_id = t.{q(rel.column)} "
                "ON CONFLICT (table_name, row_id) DO NOTHING",
                {"t": rule.table, "p": rel.parent},
            )
            marked += cur.rowcount
        conn.commit()
    return marked


def move_batch(conn: psycopg.Connection[Any], table: str, limit: int) -> tuple[int, int, int]:
    """Move up to ``limit`` problem rows of ``table``; (own, with parent, picked)."""
    row = conn.execute(
        f"""
        WITH picked AS (
            SELECT row_id, kind, reason, had_tenant FROM {SCHEMA}.problems
            WHERE table_name = %(t)s ORDER BY row_id LIMIT %(n)s FOR UPDATE),
        moved AS (DELETE FROM public.{q(table)} t USING picked WHERE t.id = picked.row_id
                  RETURNING t.*),
        kept AS (
            INSERT INTO {SCHEMA}.quarantine
                (table_name, row_id, kind, reason, had_tenant, row_data)
            SELECT %(t)s, m.id, p.kind, p.reason, p.had_tenant, to_jsonb(m)
            FROM moved m JOIN picked p ON p.row_id = m.id RETURNING kind),
        gone AS (DELETE FROM {SCHEMA}.problems WHERE table_name = %(t)s
                 AND row_id IN (SELECT row_id FROM picked))
        SELECT count(*) FILTER (WHERE kind <> 'with_parent'),
               count(*) FILTER (WHERE kind = 'with_parent'),
               (SELECT count(*) FROM picked)
        FROM kept
        """.encode(),
        {"t": table, "n": limit},
    ).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def move_all(
    conn: psycopg.Connection[Any],
    rules: list[TableRule],
    *,
    batch_size: int,
    on_moved: Callable[[str, int, int], None],
) -> None:
    """Move every marked row, children first."""
    for rule in reversed(rules):
        while True:
            own, with_parent, picked = move_batch(conn, rule.table, batch_size)
            if own or with_parent:
                on_moved(rule.table, own, with_parent)
            if picked < batch_size:
                break


def moving_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute(
        f"SELECT table_name, count(*) FROM {SCHEMA}.problems GROUP BY table_name"
    ).fetchall()
    conn.commit()
    return {r[0]: int(r[1]) for r in rows}


def unindexed_references(live: Snapshot, moving: dict[str, int]) -> list[tuple[str, str]]:
    """(child, column) of legacy foreign keys to a table many rows leave, with no index."""
    indexed = {
        (i.table, m["col"])
        for i in live.indexes.values()
        if i.valid and (m := _LEADING.search(i.definition))
    }
    found = set()
    for (child, _name), con in live.constraints.items():
        m = _SINGLE_FK.match(con.definition) if con.kind == "f" else None
        if m and moving.get(m["parent"], 0) >= INDEX_FROM_ROWS and (child, m["col"]) not in indexed:
            found.add((child, m["col"]))
    return sorted(found)


@contextlib.contextmanager
def reference_indexes(
    conninfo: str, pairs: list[tuple[str, str]], *, jobs: int = 1
) -> Iterator[list[str]]:
    """Build an index per (child, column) for the moves, drop them afterwards (CONCURRENTLY).

    The builds run on ``jobs`` connections side by side (concurrent builds of plain
    indexes on different tables do not wait for each other). An index that cannot be
    built (a long transaction holds the table) is left out: the moves are then slower,
    never wrong.
    """
    groups = [g for g in (pairs[i :: max(1, jobs)] for i in range(max(1, jobs))) if g]
    built: list[str] = []  # appended as each build ends (list.append is atomic)
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:
            for _ in pool.map(lambda g: _build_all(conninfo, g, built), groups):
                pass
        yield built
    finally:
        if built:
            with _ddl_connection(conninfo) as conn:
                for name in built:
                    _concurrently(conn, f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}")


def _ddl_connection(conninfo: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute("SET search_path = public")
    conn.execute("SET lock_timeout = '500ms'")
    return conn


def _build_all(conninfo: str, pairs: list[tuple[str, str]], built: list[str]) -> None:
    with _ddl_connection(conninfo) as conn:
        for child, column in pairs:
            name = _short(f"tenantry_legacy_ref_{child}_{column}")
            if _build(conn, name, f"ON {q(child)} ({q(column)})"):
                built.append(name)


def _build(conn: psycopg.Connection[Any], name: str, target: str) -> bool:
    for attempt in range(1, 21):
        valid = conn.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace",
            (name,),
        ).fetchone()
        if valid is not None and valid[0]:
            return True
        # left invalid by an interrupted build — or by our own last try: a build that
        # times out waiting for a lock leaves its invalid index behind
        if valid is not None and not _concurrently(
            conn, f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
        ):
            return False
        try:
            conn.execute(f"CREATE INDEX CONCURRENTLY {q(name)} {target}".encode())
            return True
        except errors.LockNotAvailable:
            time.sleep(min(2.0, 0.05 * 2**attempt))
    return False


def _concurrently(conn: psycopg.Connection[Any], sql: str) -> bool:
    for attempt in range(1, 21):
        try:
            conn.execute(sql.encode())
            return True
        except errors.LockNotAvailable:
            time.sleep(min(2.0, 0.05 * 2**attempt))
    return False


class RestoreError(Exception):
    pass


def restore(
    conn: psycopg.Connection[Any],
    rules: list[TableRule],
    *,
    tables: list[str] | None,
    tenant_id: str | None,
) -> dict[str, int]:
    """Write quarantined rows back (parents first) in one transaction; counts per table.

    ``tenant_id`` fills rows that have no tenant — needed once tighten made the column
    NOT NULL; the composite keys then check that the row fits that tenant.
    """
    restored: dict[str, int] = {}
    try:
        for rule in rules:
            if tables and rule.table not in tables:
                continue
            cur = conn.execute(
                f"""
                WITH r AS (DELETE FROM {SCHEMA}.quarantine WHERE table_name = %(t)s
                           RETURNING row_data)
                INSERT INTO public.{q(rule.table)}
                SELECT (jsonb_populate_record(NULL::public.{q(rule.table)},
                        CASE WHEN %(tenant)s::uuid IS NOT NULL
                                  AND coalesce(row_data->>'tenant_id', '') = ''
                             THEN row_data || jsonb_build_object('tenant_id', %(tenant)s::uuid)
                             ELSE row_data END)).*
                FROM r
                """.encode(),
                {"t": rule.table, "tenant": tenant_id},
            )
            if cur.rowcount:
                restored[rule.table] = cur.rowcount
                conn.execute(
                    f"UPDATE {SCHEMA}.checkpoints SET done = false WHERE table_name = %s",
                    (rule.table,),
                )
        conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        raise RestoreError(" ".join(str(exc).split())) from exc
    return restored

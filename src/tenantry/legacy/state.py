"""The toolkit's own bookkeeping, in schema ``tenantry_legacy`` of the legacy database.

Kept out of ``public`` on purpose: ``tenantry audit schema`` and tighten's comparison
read ``public`` only, and the app role has no USAGE here, so quarantined rows (which
carry no tenant yet) are never reachable by the app.

* ``checkpoints``: per table, the account (rows that were NULL, backfilled, assigned,
  quarantined) and ``pages``, the table's length in pages when its sweep began.
* ``slices``: where each slice of a table's sweep is (``next_page`` of its page range;
  the sweep walks the table in physical order). A batch updates its rows, its slice
  and the account in one transaction, so a killed run resumes exactly after the last
  committed batch.
* ``problems``: rows whose tenant cannot be decided (orphans, conflicts) with the
  reason; quarantined rows leave this table in the same transaction that moves them.
* ``quarantine``: moved rows as JSON with their reason, for ``restore-quarantine``.
* ``tighten_log``: tighten steps done, for ``status``.
* ``reference``: the cached target-schema snapshot per Alembic head (``reference``).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

SCHEMA = "tenantry_legacy"

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.reference (
    head text PRIMARY KEY, snapshot jsonb NOT NULL, built_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {SCHEMA}.checkpoints (
    table_name text PRIMARY KEY,
    pages bigint,
    done boolean NOT NULL DEFAULT false,
    null_at_start bigint NOT NULL DEFAULT 0,
    backfilled bigint NOT NULL DEFAULT 0,
    assigned bigint NOT NULL DEFAULT 0,
    quarantined bigint NOT NULL DEFAULT 0,
    moved_with_parent bigint NOT NULL DEFAULT 0,
    memberships_created bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE {SCHEMA}.checkpoints ADD COLUMN IF NOT EXISTS pages bigint;
CREATE TABLE IF NOT EXISTS {SCHEMA}.slices (
    table_name text NOT NULL, slice int NOT NULL, start_page bigint NOT NULL,
    next_page bigint NOT NULL, end_page bigint NOT NULL, PRIMARY KEY (table_name, slice));
CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (
    id bigserial PRIMARY KEY, policy text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz);
CREATE TABLE IF NOT EXISTS {SCHEMA}.problems (
    table_name text NOT NULL, row_id uuid NOT NULL, kind text NOT NULL, reason text NOT NULL,
    had_tenant boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_name, row_id));
CREATE TABLE IF NOT EXISTS {SCHEMA}.quarantine (
    id bigserial PRIMARY KEY, table_name text NOT NULL, row_id uuid NOT NULL, kind text NOT NULL,
    reason text NOT NULL, had_tenant boolean NOT NULL, row_data jsonb NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS quarantine_table_row ON {SCHEMA}.quarantine (table_name, row_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.tighten_log (
    step text PRIMARY KEY, phase text NOT NULL, done_at timestamptz NOT NULL DEFAULT now());
CREATE UNLOGGED TABLE IF NOT EXISTS {SCHEMA}.user_tenants (
    user_id uuid PRIMARY KEY, tenant_id uuid, tenants uuid[] NOT NULL);
"""


def ensure(conn: psycopg.Connection[Any]) -> None:
    """Create the bookkeeping schema if missing (idempotent; commits)."""
    # the newest object decides: a schema made by an older toolkit gets what it lacks
    row = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.slices",)).fetchone()
    if row is None or row[0] is None:
        conn.execute(_DDL.encode())
    conn.commit()


def exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.checkpoints",)).fetchone()
    return bool(row and row[0])


def cached_reference(conn: psycopg.Connection[Any], head: str) -> dict[str, Any] | None:
    if not exists(conn):
        return None
    row = conn.execute(
        f"select snapshot from {SCHEMA}.reference where head = %s", (head,)
    ).fetchone()
    conn.commit()
    return None if row is None else dict(row[0])


def store_reference(conn: psycopg.Connection[Any], head: str, snapshot: dict[str, Any]) -> None:
    conn.execute(
        f"insert into {SCHEMA}.reference (head, snapshot) values (%s, %s) "
        "on conflict (head) do update set snapshot = excluded.snapshot, built_at = now()",
        (head, Jsonb(snapshot)),
    )
    conn.commit()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)

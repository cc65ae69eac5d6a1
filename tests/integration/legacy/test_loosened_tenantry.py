"""A migrated, populated Tenantry database, loosened by hand, goes back to isolated online.

The loosening here is the test's own (not tenantry.legacy.loosen): policies and RLS
off, composite keys and foreign keys single-column, tenant-led indexes and uniques
gone, tenant_id nullable and NULL on derivable rows, the column dropped on one table.
The whole journey then runs while a writer keeps inserting and updating; afterwards
every row has the tenant it had, the audit is clean, the attack engine finds nothing,
and every write of the writer is there.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

import psycopg

from tenantry.app import create_app
from tenantry.audit import audit_schema
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.legacy.backfill import Backfill, parse_policy
from tenantry.legacy.connect import connect, conninfo
from tenantry.legacy.context import load
from tenantry.legacy.journey import run_tighten
from tenantry.legacy.reference import head_revision
from tenantry.legacy.report import simulate
from tenantry.legacy.status import read_status
from tests.integration.legacy.conftest import ROOTS, expected_tenants
from tests.isolation.conftest import run_engine
from tests.isolation.test_attack_engine import assert_clean
from tests.isolation.world import make_world

DROPPED_COLUMN_TABLE = "invoice_lines"  # every line has its invoice: all derivable


def _tenant_tables(conn: psycopg.Connection[Any]) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select table_name from information_schema.columns where table_schema = 'public' "
            "and column_name = 'tenant_id' and table_name <> 'tenant_memberships' order by 1"
        )
    ]


def _truth(conn: psycopg.Connection[Any]) -> dict[str, dict[uuid.UUID, uuid.UUID]]:
    return {
        t: dict(conn.execute(f"select id, tenant_id from {t}").fetchall())
        for t in _tenant_tables(conn)
    }


def _loosen(conn: psycopg.Connection[Any]) -> None:
    tables = _tenant_tables(conn)
    for table, name in conn.execute("select tablename, policyname from pg_policies").fetchall():
        conn.execute(f'DROP POLICY "{name}" ON "{table}"')
    singles = []
    for table in [*tables, "tenant_memberships"]:
        conn.execute(
            f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY'
        )
    fks = conn.execute(
        "select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "from pg_constraint c where c.contype = 'f' and c.conrelid::regclass::text = any(%s)",
        (tables,),
    ).fetchall()
    for table, name, definition in fks:
        conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        m = re.match(
            r"FOREIGN KEY \(tenant_id, (\w+)\) REFERENCES (\w+)\(tenant_id, (\w+)\)"
            r"(?: ON DELETE (CASCADE|SET NULL))?",
            definition,
        )
        if m:
            parent = "users" if m[2] == "tenant_memberships" else m[2]
            singles.append((table, m[1], parent, f" ON DELETE {m[4]}" if m[4] else ""))
    for table, name, definition in conn.execute(
        "select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint "
        "where contype in ('p', 'u') and conrelid::regclass::text = any(%s)",
        (tables,),
    ).fetchall():
        if definition.startswith("PRIMARY KEY"):
            conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}", ADD PRIMARY KEY (id)')
        else:
            conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for (index,) in conn.execute(
        "select indexrelid::regclass::text from pg_index i join pg_class c on c.oid = i.indrelid "
        "where c.relname = any(%s) and not i.indisprimary and pg_get_indexdef(i.indexrelid) "
        "like '%%(tenant_id%%'",
        (tables,),
    ).fetchall():
        conn.execute(f'DROP INDEX "{index}"')
    for table in tables:
        conn.execute(f'ALTER TABLE "{table}" ALTER COLUMN tenant_id DROP NOT NULL')
    for table, column, parent, action in singles:
        conn.execute(
            f'ALTER TABLE "{table}" ADD FOREIGN KEY ("{column}") REFERENCES "{parent}"(id){action}'
        )
    conn.execute("DROP TABLE alembic_version")
    conn.commit()


def _null_derivable(conn: psycopg.Connection[Any], truth: dict[str, Any]) -> int:
    """NULL the tenant of about half the rows that have a relation; keep it where the
    test's own derivation would not find it again."""
    for table in truth:
        if table in ROOTS:  # nothing to derive from: a NULL there is an orphan
            continue
        conn.execute(f"UPDATE {table} SET tenant_id = NULL WHERE id::text < '9'")
    expected = expected_tenants(conn)
    for table, rows in expected.items():
        for row_id, tenant in rows.items():
            if tenant != truth[table][row_id]:
                conn.execute(
                    f"UPDATE {table} SET tenant_id = %s WHERE id = %s",
                    (truth[table][row_id], row_id),
                )
    nulled = sum(
        conn.execute(f"select count(*) from {t} where tenant_id is null").fetchone()[0]
        for t in truth
    )
    conn.execute(f"ALTER TABLE {DROPPED_COLUMN_TABLE} DROP COLUMN tenant_id")
    conn.commit()
    return nulled


class Writer(threading.Thread):
    """Tenant A's app keeps writing: inserts contact submissions, updates booking notes."""

    def __init__(self, dsn: str, tenant: uuid.UUID, bookings: list[uuid.UUID]) -> None:
        super().__init__(daemon=True)
        self.dsn, self.tenant, self.bookings = dsn, tenant, bookings
        self.stop = threading.Event()
        self.inserted: list[uuid.UUID] = []
        self.notes: dict[uuid.UUID, str] = {}
        self.errors: list[str] = []
        self.longest = 0.0

    def run(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    conn.execute(
                        "select set_config('app.current_tenant_id', %s, true)", (str(self.tenant),)
                    )
                    new_id = uuid.uuid4()
                    conn.execute(
                        "insert into contact_submissions (tenant_id, id, name, email, message) "
                        "values (%s, %s, 'writer', 'w@example.test', 'during the journey')",
                        (self.tenant, new_id),
                    )
                    booking = self.bookings[n % len(self.bookings)]
                    note = f"note {n}"
                    cur = conn.execute(
                        "update bookings set notes = %s where id = %s", (note, booking)
                    )
                    assert cur.rowcount == 1, "the writer's booking is not visible"
                    conn.commit()
                    self.inserted.append(new_id)
                    self.notes[booking] = note
                except Exception as exc:
                    conn.rollback()
                    self.errors.append(repr(exc))
                self.longest = max(self.longest, time.monotonic() - started)
                time.sleep(0.005)


def test_a_loosened_tenantry_database_is_converted_online_and_isolated_again(
    settings, new_database
):
    urls = new_database()
    upgrade(urls)
    db = Database(urls, pool_size=2, max_overflow=2)
    world = make_world(db)  # a populated database: demo fillers and seeds of two tenants
    db.dispose()
    with connect(urls.migrator) as conn:
        truth = _truth(conn)
        _loosen(conn)
        nulled = _null_derivable(conn, truth)
    assert nulled > 20

    ctx = load(urls)
    assert ctx.shape.fatal == []
    assert ctx.shape.missing_tenant_column == [DROPPED_COLUMN_TABLE]
    for r in simulate(ctx):
        assert r.null == r.derivable, f"{r.table}: every NULL here is derivable"

    bookings = [i for i, t in truth["bookings"].items() if t == world.a.id]
    writer = Writer(conninfo(urls.app), world.a.id, bookings)
    writer.start()
    try:
        accounts = Backfill(ctx, parse_policy("quarantine"), batch_size=10).run()
        assert all(a.adds_up and a.quarantined == 0 for a in accounts)
        result = run_tighten(load(urls), lock_timeout_ms=100)
    finally:
        writer.stop.set()
        writer.join(timeout=30)

    assert result.left_over == [] and result.findings == []
    with connect(urls.migrator) as conn:
        for table, rows in truth.items():
            now = dict(conn.execute(f"select id, tenant_id from {table}").fetchall())
            for row_id, tenant in rows.items():
                assert now[row_id] == tenant, (table, row_id)
        assert conn.execute("select version_num from alembic_version").fetchone() == (
            head_revision(),
        )
        # the writer: every write succeeded and is there
        assert writer.errors == [] and len(writer.inserted) > 10
        present = {
            r[0]
            for r in conn.execute(
                "select id from contact_submissions where tenant_id = %s", (world.a.id,)
            )
        }
        assert set(writer.inserted) <= present
        for booking, note in writer.notes.items():
            assert conn.execute(
                "select notes from bookings where id = %s", (booking,)
            ).fetchone() == (note,)
    print(f"\nwriter: {len(writer.inserted)} inserts + updates, longest {writer.longest:.3f}s")

    engine_db = Database(urls, pool_size=2, max_overflow=2)
    try:
        assert audit_schema(engine_db.migrator_engine) == []
        status = read_status(urls)
        assert status.tighten_complete and all(t.nulls_left == 0 for t in status.tables)
        # a representative part of the attack engine, in-process, on the converted database
        app_settings = settings.model_copy(update={"database_name": urls.database})
        app = create_app(app_settings, engine_db)
        # The world whose rows went through the conversion, attacked on its bookings
        # (client, service, request links) and request chat (a table whose tenant came
        # through its request): admin and portal routes
        areas = ("/bookings", "/chat")
        report = run_engine(
            app,
            engine_db,
            app_settings,
            world,
            name="legacy-converted",
            select=lambda route: any(a in route for a in areas),
            credential_attacks=False,
            scenarios=False,
            ids_per_slot=1,
        )
        assert report.probes > 100
        assert_clean(report, require_exercised=False)
    finally:
        engine_db.dispose()

"""``tenantry legacy backfill``: every NULL tenant_id derived from its relations, in batches.

Tables go parents first (services before requests before bookings ...), so a row whose
parent was just backfilled derives from it: a work order reaches its tenant through
its booking and the booking's client. Each table is swept once in physical order: a
batch is a range of pages (``ctid``, a TID range scan — never a search through the
primary key, whose uuid order is random on disk), decided and written by one
statement (``derive``) in its own short transaction together with its checkpoint. A
big table is cut into slices swept by parallel connections (``--jobs``). A killed run
resumes after the last committed batch of each slice, and a rerun changes nothing.

Rows a writer moved behind the sweep (an update puts the new version elsewhere) or
wrote without a tenant during the run are found by a last catch-up pass.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors

from tenantry.legacy import quarantine, schedule
from tenantry.legacy.connect import connect, conninfo
from tenantry.legacy.context import Context, LegacyError, exclusive
from tenantry.legacy.derive import LIVE_HELPER, Derivation, reason, user_tenants_sql
from tenantry.legacy.rules import MEMBERSHIPS, TableRule
from tenantry.legacy.state import SCHEMA
from tenantry.legacy.tighten import q

BATCH_LOCK_TIMEOUT = "2s"  # a batch waits this long for a writer's row lock, then retries
MIN_SLICE_PAGES = 2  # pages per slice at least
# A batch holds its rows' locks until it commits: an app writer that needs one of them
# waits that long. The page step shrinks when a batch takes longer than this.
BATCH_SECONDS = 0.25


@dataclass(frozen=True)
class Policy:
    """What happens to orphans and conflicts: reported only, assigned, or quarantined."""

    kind: str  # report | assign | quarantine
    slug: str | None = None

    def __str__(self) -> str:
        return f"assign:{self.slug}" if self.kind == "assign" else self.kind


def parse_policy(text: str | None) -> Policy:
    if text is None or text == "report":
        return Policy("report")
    if text == "quarantine":
        return Policy("quarantine")
    if text.startswith("assign:") and text[len("assign:") :]:
        return Policy("assign", text[len("assign:") :])
    raise LegacyError(f"--orphans must be assign:<tenant slug> or quarantine, not {text!r}")


@dataclass
class Account:
    table: str
    null_at_start: int = 0
    backfilled: int = 0
    assigned: int = 0
    quarantined: int = 0
    moved_with_parent: int = 0
    memberships_created: int = 0
    left: int = 0  # problem rows still in the table (policy "report")

    @property
    def adds_up(self) -> bool:
        return self.null_at_start == self.backfilled + self.assigned + self.quarantined + self.left


@dataclass
class Progress:
    """Callbacks the CLI turns into rich progress bars (tests pass none)."""

    start_table: Callable[[str, int, int], None] = lambda table, total, done: None
    advance: Callable[[str, int], None] = lambda table, rows: None
    note: Callable[[str], None] = lambda text: None


@dataclass
class Backfill:
    ctx: Context
    policy: Policy
    batch_size: int = 5000
    progress: Progress = field(default_factory=Progress)
    assign_tenant: str | None = None
    jobs: int = 2  # parallel connections per table
    pause: float = 0.0  # seconds to sleep after each batch (throttle)
    # seconds spent per part of the run ("sweep bookings", "catch-up bookings", ...), for
    # bench/backfill: where the time goes
    timings: dict[str, float] = field(default_factory=dict)
    _progress_lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def _timed(self, part: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            with self._progress_lock:
                self.timings[part] = self.timings.get(part, 0.0) + time.monotonic() - started

    def run(self, tables: list[str] | None = None) -> list[Account]:
        ctx = self.ctx
        ctx.require_shape()
        selected = ctx.select(tables)
        with exclusive(ctx.urls, "the backfill"), connect(ctx.urls.migrator) as conn:
            with self._timed("set-up"):
                self._set_up(conn, selected)
            schedule.run_tables(
                {r.table: {p.parent for p in r.parents if p.parent != r.table} for r in selected},
                schedule.TableWork(self._open, self._finish),
                jobs=self.jobs,
                connect=self._worker_connection,
                close=lambda c: c.close(),
            )
            if self.policy.kind != "report":
                # with assign: the rows that could not take the tenant without breaking a
                # key (a parent or a member in another tenant) — never a silent guess
                self._quarantine(conn)
            conn.execute(f"UPDATE {SCHEMA}.runs SET finished_at = now() WHERE finished_at IS NULL")
            conn.commit()
            return accounts(conn, [r.table for r in selected])

    # -- set-up ---------------------------------------------------------------------

    def _set_up(self, conn: psycopg.Connection[Any], selected: list[TableRule]) -> None:
        ctx = self.ctx
        self._add_missing_columns(conn, selected)
        ctx.refresh(conn)
        self._check_memberships_table(conn)
        if self.policy.kind == "assign":
            self.assign_tenant = _tenant_id(conn, self.policy.slug or "")
        self._start_or_resume(conn, selected)
        self._legacy_user_memberships(conn)
        for sql in user_tenants_sql(
            LIVE_HELPER, users_have_tenant=ctx.shape.users_have_tenant, temp=False
        ):
            conn.execute(sql.encode())
        conn.commit()

    def _add_missing_columns(self, conn: psycopg.Connection[Any], rules: list[TableRule]) -> None:
        for table in self.ctx.shape.missing_tenant_column:
            if table in {r.table for r in rules} or table in {
                p.parent for r in rules for p in r.parents
            }:
                self.progress.note(f"{table}: adding the missing tenant_id column (nullable)")
                _with_lock_retry(conn, f"ALTER TABLE public.{q(table)} ADD COLUMN tenant_id uuid")

    def _check_memberships_table(self, conn: psycopg.Connection[Any]) -> None:
        nulls = conn.execute(
            f"SELECT count(*) FROM public.{MEMBERSHIPS} WHERE tenant_id IS NULL"
        ).fetchone()
        conn.commit()
        if nulls and nulls[0]:
            raise LegacyError(
                f"{nulls[0]} tenant_memberships rows have no tenant: a membership *is* a "
                "user-tenant pair, nothing can derive it — set or delete them first"
            )

    def _start_or_resume(self, conn: psycopg.Connection[Any], rules: list[TableRule]) -> None:
        open_run = conn.execute(
            f"SELECT id, policy FROM {SCHEMA}.runs WHERE finished_at IS NULL"
        ).fetchone()
        if open_run is not None:
            if open_run[1] != str(self.policy):
                raise LegacyError(
                    f"an interrupted run used --orphans {open_run[1]}; resume it with the "
                    "same policy (the rows it already handled followed that one)"
                )
            self.progress.note(f"resuming the interrupted run {open_run[0]}")
            missing = [r.table for r in rules if not _has_checkpoint(conn, r.table)]
            for table in missing:
                _reset_checkpoint(conn, table)
        else:
            conn.execute(f"INSERT INTO {SCHEMA}.runs (policy) VALUES (%s)", (str(self.policy),))
            for rule in rules:
                _reset_checkpoint(conn, rule.table)
        conn.commit()

    def _legacy_user_memberships(self, conn: psycopg.Connection[Any]) -> None:
        """A legacy users.tenant_id becomes a membership (role client) where none exists."""
        if not self.ctx.shape.users_have_tenant:
            return
        cur = conn.execute(
            # as old as the user: the legacy column said so since then
            f"INSERT INTO public.{MEMBERSHIPS} (tenant_id, user_id, role, created_at, updated_at) "
            "SELECT u.tenant_id, u.id, 'client', u.created_at, u.created_at FROM public.users u "
            "WHERE u.tenant_id IS NOT NULL ON CONFLICT DO NOTHING"
        )
        if cur.rowcount:
            conn.execute(
                f"INSERT INTO {SCHEMA}.checkpoints (table_name, memberships_created) "
                "VALUES (%s, %s) ON CONFLICT (table_name) DO UPDATE SET "
                "memberships_created = "
                "checkpoints.memberships_created + excluded.memberships_created",
                (MEMBERSHIPS, cur.rowcount),
            )
            self.progress.note(f"{cur.rowcount} memberships created from users.tenant_id")
        conn.commit()

    # -- the sweep ------------------------------------------------------------------

    def _worker_connection(self) -> psycopg.Connection[Any]:
        conn = connect(self.ctx.urls.migrator)
        # A batch's rows and its checkpoint commit together, so a commit lost in a server
        # crash loses both: the resumed run redoes that batch, as after a kill. WAL is
        # replayed in order, so no later batch (nor a child table's) survives one that
        # was lost; the run's end is committed synchronously (``run``), which makes every
        # batch before it durable. Meanwhile no batch waits for its WAL to reach the disk.
        conn.execute("SET synchronous_commit = off")
        # A batch looks up a few thousand parent rows (and users) by primary key. With the
        # default random_page_cost (4, for pages read from disk) the planner rather hashes
        # the whole parent for each batch, even one 200 times the batch (all 500,000
        # invoices for 2,500 invoice lines): the run grows with the square of the table.
        # The lookups hit cached pages; measured on the 5M bench, server CPU -14%.
        conn.execute("SET random_page_cost = 1.1")
        conn.commit()
        return conn

    def _rule(self, table: str) -> TableRule:
        return next(r for r in self.ctx.rules if r.table == table)

    def _open(
        self, conn: psycopg.Connection[Any], table: str
    ) -> list[Callable[[psycopg.Connection[Any]], None]] | None:
        """The table's unswept slices as steps (cut on first visit); None when it is done."""
        row = conn.execute(
            f"SELECT done, pages, null_at_start, backfilled + assigned + "
            f"(SELECT count(*) FROM {SCHEMA}.problems WHERE table_name = %(t)s) "
            f"FROM {SCHEMA}.checkpoints WHERE table_name = %(t)s",
            {"t": table},
        ).fetchone()
        assert row is not None
        done, pages, null_at_start, handled = row
        if done:
            conn.commit()
            return None
        if pages is None:
            with self._timed(f"count {table}"):
                null_at_start = self._begin_table(conn, table)
        slices = conn.execute(
            f"SELECT slice, next_page, end_page FROM {SCHEMA}.slices "
            "WHERE table_name = %s AND next_page < end_page ORDER BY slice",
            (table,),
        ).fetchall()
        conn.commit()
        with self._progress_lock:
            self.progress.start_table(table, null_at_start, int(handled))
        rule = self._rule(table)
        sweep_sql = Derivation(rule, self.ctx.has_tenant).batch_sql(sweep=True).encode()

        def step(slice_: tuple[int, int, int]) -> Callable[[psycopg.Connection[Any]], None]:
            def sweep(c: psycopg.Connection[Any]) -> None:
                with self._timed(f"sweep {table}"):
                    self._sweep(c, rule, sweep_sql, *slice_)

            return sweep

        return [step(tuple(s)) for s in slices]

    def _finish(self, conn: psycopg.Connection[Any], table: str) -> None:
        """The catch-up pass (rows written or moved behind the sweep), then done."""
        rule = self._rule(table)
        catch_up = Derivation(rule, self.ctx.has_tenant).batch_sql(sweep=False).encode()
        with self._timed(f"catch-up {table}"):
            while True:
                params = {"limit": self.batch_size, "assign": self.assign_tenant, "table": table}
                seen, handled = self._batch(conn, rule, catch_up, params, None)
                # A batch short of its limit read the whole table: every NULL row there
                # was handled unless a writer changed one under it (then look again). A
                # row written after that scan began is as late as one written after an
                # empty pass: tighten refuses while any NULL remains.
                if seen < self.batch_size and handled == seen:
                    break
        conn.execute(
            f"UPDATE {SCHEMA}.checkpoints SET done = true, updated_at = now() "
            "WHERE table_name = %s",
            (table,),
        )
        conn.commit()

    def _begin_table(self, conn: psycopg.Connection[Any], table: str) -> int:
        """Count the NULL rows, fix the sweep's page range and cut it into slices."""
        # A column the backfill just added has no statistics, and without them the
        # planner takes every page range for a handful of rows (and joins them badly).
        no_stats = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = 'public' "
            "AND tablename = %s AND attname = 'tenant_id')",
            (table,),
        ).fetchone()
        if no_stats and no_stats[0]:
            conn.execute(f"ANALYZE public.{q(table)}")
        row = conn.execute(
            f"SELECT count(*) FILTER (WHERE tenant_id IS NULL), "
            f"pg_relation_size('public.{q(table)}') / current_setting('block_size')::int "
            f"FROM public.{q(table)}"
        ).fetchone()
        assert row is not None
        null_at_start, pages = int(row[0]), int(row[1])
        # Rows that had a tenant at the start need no visit: with no NULL row there is
        # nothing to sweep (the catch-up still looks for rows written since).
        swept = pages if null_at_start else 0
        # one slice per job, where there is more than a batch of work and enough pages
        parts = max(1, min(self.jobs, null_at_start // self.batch_size, swept // MIN_SLICE_PAGES))
        bounds = [swept * i // parts for i in range(parts + 1)]
        conn.execute(f"DELETE FROM {SCHEMA}.slices WHERE table_name = %s", (table,))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {SCHEMA}.slices (table_name, slice, start_page, next_page, "
                "end_page) VALUES (%s, %s, %s, %s, %s)",
                [(table, i, bounds[i], bounds[i], bounds[i + 1]) for i in range(parts)],
            )
        conn.execute(
            f"UPDATE {SCHEMA}.checkpoints SET null_at_start = %s, pages = %s WHERE table_name = %s",
            (null_at_start, pages, table),
        )
        return null_at_start

    def _sweep(
        self,
        conn: psycopg.Connection[Any],
        rule: TableRule,
        sql: bytes,
        slice_no: int,
        next_page: int,
        end_page: int,
    ) -> None:
        """Walk one slice's pages. The page step adapts: a batch holds about batch_size
        NULL rows and takes about BATCH_SECONDS at most (a loaded server gets smaller ones)."""
        step = 8
        while next_page < end_page:
            upto = min(end_page, next_page + step)
            params = {"lo": f"({next_page},0)", "hi": f"({upto},0)", "assign": self.assign_tenant}
            started = time.monotonic()
            seen, _ = self._batch(conn, rule, sql, params, (slice_no, upto))
            took = time.monotonic() - started - self.pause
            scale = min(
                self.batch_size / seen if seen else 4.0,
                BATCH_SECONDS / took if took > 0 else 4.0,
            )
            step = max(1, min(step * 4, int(step * scale)))
            next_page = upto

    def _batch(
        self,
        conn: psycopg.Connection[Any],
        rule: TableRule,
        sql: bytes,
        params: dict[str, Any],
        slice_: tuple[int, int] | None,
    ) -> tuple[int, int]:
        """One batch and its checkpoint in one transaction; (rows it looked at, rows it
        backfilled, assigned or recorded as problems)."""
        for attempt in range(1, 31):
            try:
                conn.execute(f"SET LOCAL lock_timeout = '{BATCH_LOCK_TIMEOUT}'")
                row = conn.execute(sql, params).fetchone()
                assert row is not None
                seen, backfilled, assigned, members, problems = row
                rows = [
                    (rule.table, p["id"], *reason(rule, p, self._slug_if_assign()))
                    for p in problems
                ]
                if rows:
                    with conn.cursor() as cur:
                        cur.executemany(
                            f"INSERT INTO {SCHEMA}.problems (table_name, row_id, kind, reason) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (table_name, row_id) DO UPDATE "
                            "SET kind = excluded.kind, reason = excluded.reason",
                            rows,
                        )
                slice_no, upto = slice_ if slice_ else (None, None)
                conn.execute(
                    f"WITH s AS (UPDATE {SCHEMA}.slices SET next_page = %(upto)s "
                    "WHERE table_name = %(t)s AND slice = %(slice)s) "
                    f"UPDATE {SCHEMA}.checkpoints SET backfilled = backfilled + %(b)s, "
                    "assigned = assigned + %(a)s, updated_at = now() WHERE table_name = %(t)s",
                    {
                        "upto": upto,
                        "slice": slice_no,
                        "t": rule.table,
                        "b": backfilled,
                        "a": assigned,
                    },
                )
                if members:
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.checkpoints (table_name, memberships_created) "
                        "VALUES (%s, %s) ON CONFLICT (table_name) DO UPDATE SET "
                        "memberships_created = checkpoints.memberships_created + %s",
                        (MEMBERSHIPS, members, members),
                    )
                conn.commit()
                with self._progress_lock:
                    self.progress.advance(rule.table, int(seen))
                if self.pause:
                    time.sleep(self.pause)
                return int(seen), int(backfilled) + int(assigned) + len(rows)
            except (errors.LockNotAvailable, errors.DeadlockDetected):
                conn.rollback()
                time.sleep(min(1.0, 0.05 * attempt))
        raise LegacyError(f"{rule.table}: a batch could not get its row locks in 30 attempts")

    def _slug_if_assign(self) -> str | None:
        return self.policy.slug if self.policy.kind == "assign" else None

    def _quarantine(self, conn: psycopg.Connection[Any]) -> None:
        # the problems table grew during the sweep: without fresh statistics the planner
        # takes it for empty and joins every moved row with a scan of its table
        with self._timed("quarantine: mark children"):
            conn.execute(f"ANALYZE {SCHEMA}.problems")
            marked = quarantine.mark_children(conn, self.ctx.rules)
            conn.execute(f"ANALYZE {SCHEMA}.problems")
            conn.commit()
        if marked:
            self.progress.note(f"{marked} rows reference problem rows and move with them")

        def moved(table: str, own: int, with_parent: int) -> None:
            conn.execute(
                f"UPDATE {SCHEMA}.checkpoints SET quarantined = quarantined + %s, "
                "moved_with_parent = moved_with_parent + %s WHERE table_name = %s",
                (own, with_parent, table),
            )
            conn.commit()

        pairs = quarantine.unindexed_references(self.ctx.live, quarantine.moving_counts(conn))
        if pairs:
            self.progress.note(
                "indexing (concurrently, until the rows have moved) the legacy foreign keys "
                "they are referenced by: " + ", ".join(f"{t}.{c}" for t, c in pairs)
            )
        with (
            self._timed("quarantine: indexes and moves"),
            quarantine.reference_indexes(conninfo(self.ctx.urls.migrator), pairs, jobs=self.jobs),
        ):
            quarantine.move_all(conn, self.ctx.rules, batch_size=self.batch_size, on_moved=moved)


def _with_lock_retry(conn: psycopg.Connection[Any], sql: str) -> None:
    for attempt in range(1, 51):
        try:
            conn.execute("SET LOCAL lock_timeout = '200ms'")
            conn.execute(sql.encode())
            conn.commit()
            return
        except errors.LockNotAvailable:
            conn.rollback()
            time.sleep(min(2.0, 0.05 * attempt))
    raise LegacyError(f"no lock for {sql!r} in 50 attempts; a long transaction holds the table")


def _tenant_id(conn: psycopg.Connection[Any], slug: str) -> str:
    row = conn.execute("SELECT id FROM public.tenants WHERE slug = %s", (slug,)).fetchone()
    conn.commit()
    if row is None:
        raise LegacyError(f"--orphans assign:{slug}: no tenant has the slug {slug!r}")
    return str(row[0])


def _has_checkpoint(conn: psycopg.Connection[Any], table: str) -> bool:
    return (
        conn.execute(
            f"SELECT 1 FROM {SCHEMA}.checkpoints WHERE table_name = %s", (table,)
        ).fetchone()
        is not None
    )


def _reset_checkpoint(conn: psycopg.Connection[Any], table: str) -> None:
    conn.execute(
        f"INSERT INTO {SCHEMA}.checkpoints (table_name) VALUES (%s) ON CONFLICT (table_name) "
        "DO UPDATE SET pages = NULL, done = false, null_at_start = 0, backfilled = 0, "
        "assigned = 0, quarantined = 0, moved_with_parent = 0, memberships_created = 0, "
        "updated_at = now()",
        (table,),
    )
    conn.execute(f"DELETE FROM {SCHEMA}.slices WHERE table_name = %s", (table,))


def accounts(conn: psycopg.Connection[Any], tables: list[str]) -> list[Account]:
    rows = conn.execute(
        f"SELECT c.table_name, c.null_at_start, c.backfilled, c.assigned, c.quarantined, "
        f"c.moved_with_parent, c.memberships_created, "
        f"(SELECT count(*) FROM {SCHEMA}.problems p WHERE p.table_name = c.table_name "
        "AND p.kind <> 'with_parent') "
        f"FROM {SCHEMA}.checkpoints c"
    ).fetchall()
    conn.commit()
    by_table = {r[0]: Account(r[0], *(int(v) for v in r[1:])) for r in rows}
    wanted = [*tables, MEMBERSHIPS] if MEMBERSHIPS in by_table else tables
    return [by_table.get(t, Account(t)) for t in dict.fromkeys(wanted)]

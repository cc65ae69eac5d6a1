"""``tenantry legacy tighten``: from a backfilled legacy database to the migrated schema, online.

The plan is the difference between the live catalogue and the reference snapshot
(``reference``), so it follows whatever the migrations at head create. Every step is
written so that writers keep writing while it runs:

* NOT NULL: ``CHECK (c IS NOT NULL) NOT VALID`` (instant) → ``VALIDATE`` (scans under a
  lock that lets writes through) → ``SET NOT NULL`` (no scan: the valid check proves it)
  → drop the check;
* keys and uniques: ``CREATE UNIQUE INDEX CONCURRENTLY`` → ``ADD CONSTRAINT ... USING
  INDEX`` (instant), swapping the old primary key in the same statement;
* foreign keys and checks: ``ADD ... NOT VALID`` (instant) → ``VALIDATE``;
* plain indexes: ``CREATE/DROP INDEX CONCURRENTLY``;
* RLS, policies, grants, defaults: catalogue-only changes.

Each statement runs under a short ``lock_timeout``: a DDL statement waiting for a lock
makes every later writer queue behind it, so it gives up quickly and retries with a
growing pause instead of queueing for long. The plan is recomputed from the catalogue
on every run, so each step is idempotent and an interrupted run simply continues (an
index left INVALID by an interrupted ``CONCURRENTLY`` is dropped and built again).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors

from tenantry.legacy.catalogue import Snapshot
from tenantry.legacy.shape import LEGACY_USER_TENANT

PHASES = (
    "columns",
    "cleanup",
    "renames",
    "indexes",
    "checks",
    "foreign_keys",
    "drop_legacy",
    "keys",
    "drop_indexes",
    "policies",
    "rls",
    "grants",
    "legacy_columns",
)


def q(name: str) -> str:
    """A quoted identifier (names come from the catalogue, never from user input)."""
    return '"' + name.replace('"', '""') + '"'


def _short(name: str) -> str:
    """PostgreSQL truncates names at 63 bytes; keep ours unique when they are long."""
    if len(name) <= 63:
        return name
    return name[:54] + "_" + hashlib.sha1(name.encode()).hexdigest()[:8]  # noqa: S324


@dataclass
class Step:
    key: str
    phase: str
    table: str
    what: str
    sql: list[str]
    concurrent: bool = False  # runs outside a transaction (CONCURRENTLY)
    index: str | None = None  # index to drop if a CONCURRENTLY build fails


@dataclass
class Roles:
    app: str
    migrator: str
    worker: str = ""

    def render(self, role: str) -> str:
        if role in ("public", "PUBLIC"):
            return "PUBLIC"
        names = {"{app}": self.app, "{migrator}": self.migrator, "{worker}": self.worker}
        return q(names.get(role, role))


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def add(self, phase: str, table: str, key: str, what: str, *sql: str, **kw: Any) -> None:
        self.steps.append(Step(f"{phase}:{key}", phase, table, what, list(sql), **kw))

    def ordered(self) -> list[Step]:
        return sorted(self.steps, key=lambda s: PHASES.index(s.phase))


def make_plan(target: Snapshot, live: Snapshot, roles: Roles) -> list[Step]:
    plan = Plan()
    tables = sorted(set(target.tables) & set(live.tables))
    _columns(plan, target, live, tables)
    renamed_constraints, renamed_indexes = _renames(plan, target, live)
    _indexes(plan, target, live, renamed_indexes)
    _constraints(plan, target, live, renamed_constraints)
    _policies(plan, target, live, roles, tables)
    _grants(plan, target, live, roles)
    if LEGACY_USER_TENANT[1] in live.tables.get(LEGACY_USER_TENANT[0], _NO_TABLE).columns:
        plan.add(
            "legacy_columns",
            "users",
            "users.tenant_id",
            "drop the legacy users.tenant_id (memberships now say it)",
            "ALTER TABLE users DROP COLUMN tenant_id",
        )
    return plan.ordered()


class _NoTable:
    columns: dict[str, Any] = {}


_NO_TABLE: Any = _NoTable()


def _columns(plan: Plan, target: Snapshot, live: Snapshot, tables: Iterable[str]) -> None:
    for t in tables:
        for c, want in target.tables[t].columns.items():
            have = live.tables[t].columns.get(c)
            if have is None:
                continue  # a shape problem, reported before planning
            if want.notnull and not have.notnull:
                check = _short(f"tighten_nn_{t}_{c}")
                if (t, check) not in live.constraints:
                    plan.add(
                        "columns",
                        t,
                        f"{t}.{c}.check",
                        f"{t}.{c}: CHECK NOT NULL NOT VALID",
                        f"ALTER TABLE {q(t)} ADD CONSTRAINT {q(check)} "
                        f"CHECK ({q(c)} IS NOT NULL) NOT VALID",
                    )
                plan.add(
                    "columns",
                    t,
                    f"{t}.{c}.validate",
                    f"{t}.{c}: VALIDATE the check",
                    f"ALTER TABLE {q(t)} VALIDATE CONSTRAINT {q(check)}",
                )
                plan.add(
                    "columns",
                    t,
                    f"{t}.{c}.notnull",
                    f"{t}.{c}: SET NOT NULL (no scan)",
                    f"ALTER TABLE {q(t)} ALTER COLUMN {q(c)} SET NOT NULL",
                    f"ALTER TABLE {q(t)} DROP CONSTRAINT {q(check)}",
                )
            elif have.notnull and not want.notnull:
                plan.add(
                    "columns",
                    t,
                    f"{t}.{c}.nullable",
                    f"{t}.{c}: DROP NOT NULL",
                    f"ALTER TABLE {q(t)} ALTER COLUMN {q(c)} DROP NOT NULL",
                )
            if want.default != have.default:
                sql = (
                    f"ALTER TABLE {q(t)} ALTER COLUMN {q(c)} SET DEFAULT {want.default}"
                    if want.default is not None
                    else f"ALTER TABLE {q(t)} ALTER COLUMN {q(c)} DROP DEFAULT"
                )
                plan.add("columns", t, f"{t}.{c}.default", f"{t}.{c}: default", sql)


def _legacy_name(name: str) -> str:
    return _short(f"{name}__legacy")


def _renames(plan: Plan, target: Snapshot, live: Snapshot) -> tuple[set[tuple[str, str]], set[str]]:
    """Free the target's names where a live object of another definition holds them."""
    renamed_constraints: set[tuple[str, str]] = set()
    renamed_indexes: set[str] = set()
    for key, want in target.constraints.items():
        have = live.constraints.get(key)
        if have is not None and (have.kind, have.definition) != (want.kind, want.definition):
            t, name = key
            plan.add(
                "renames",
                t,
                f"{t}.{name}",
                f"{t}: rename the legacy {name}",
                f"ALTER TABLE {q(t)} RENAME CONSTRAINT {q(name)} TO {q(_legacy_name(name))}",
            )
            renamed_constraints.add(key)
            if have.index:
                renamed_indexes.add(have.index)
    for name, want_index in target.indexes.items():
        have_index = live.indexes.get(name)
        if have_index is None or name in renamed_indexes:
            continue
        if have_index.definition != want_index.definition or (
            have_index.constraint and have_index.constraint != want_index.constraint
        ):
            if have_index.constraint:
                plan.add(
                    "renames",
                    have_index.table,
                    f"{name}.owner",
                    f"{have_index.table}: rename the legacy {have_index.constraint}",
                    f"ALTER TABLE {q(have_index.table)} RENAME CONSTRAINT "
                    f"{q(have_index.constraint)} TO {q(_legacy_name(name))}",
                )
                renamed_constraints.add((have_index.table, have_index.constraint))
            else:
                plan.add(
                    "renames",
                    have_index.table,
                    name,
                    f"rename the legacy index {name}",
                    f"ALTER INDEX {q(name)} RENAME TO {q(_legacy_name(name))}",
                )
            renamed_indexes.add(name)
    return renamed_constraints, renamed_indexes


def _create_index_sql(template: str, name: str) -> str:
    head, _, rest = template.partition(" {name} ON ")
    return f"{head} CONCURRENTLY IF NOT EXISTS {q(name)} ON {rest}"


def _indexes(plan: Plan, target: Snapshot, live: Snapshot, renamed: set[str]) -> None:
    for name, have in sorted(live.indexes.items()):
        if not have.valid:
            plan.add(
                "cleanup",
                have.table,
                name,
                f"drop the invalid index {name}",
                f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}",
                concurrent=True,
            )
    for name, want in sorted(target.indexes.items()):
        present = None if name in renamed else live.indexes.get(name)
        if present is not None and present.valid:
            continue
        plan.add(
            "indexes",
            want.table,
            name,
            f"{want.table}: CREATE INDEX CONCURRENTLY {name}",
            _create_index_sql(want.definition, name),
            concurrent=True,
            index=name,
        )
    for name, have in sorted(live.indexes.items()):
        kept = name in target.indexes and name not in renamed
        if not kept and have.constraint is None and have.valid:
            plan.add(
                "drop_indexes",
                have.table,
                name,
                f"drop the legacy index {name}",
                f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}",
                concurrent=True,
            )


def _constraints(
    plan: Plan, target: Snapshot, live: Snapshot, renamed: set[tuple[str, str]]
) -> None:
    present = {k: c for k, c in live.constraints.items() if k not in renamed}
    old_pk = {
        c.table: (_legacy_name(c.name) if k in renamed else c.name)
        for k, c in live.constraints.items()
        if c.kind == "p" and not (k in target.constraints and k not in renamed)
    }
    for key, want in sorted(target.constraints.items()):
        t, name = key
        have = present.get(key)
        if have is not None:
            if not have.validated:
                phase = "foreign_keys" if want.kind == "f" else "checks"
                plan.add(
                    phase,
                    t,
                    f"{t}.{name}.validate",
                    f"{t}: VALIDATE {name}",
                    f"ALTER TABLE {q(t)} VALIDATE CONSTRAINT {q(name)}",
                )
            continue
        if want.kind in ("f", "c"):
            phase = "foreign_keys" if want.kind == "f" else "checks"
            plan.add(
                phase,
                t,
                f"{t}.{name}.add",
                f"{t}: ADD {name} NOT VALID",
                f"ALTER TABLE {q(t)} ADD CONSTRAINT {q(name)} {want.definition} NOT VALID",
            )
            plan.add(
                phase,
                t,
                f"{t}.{name}.validate",
                f"{t}: VALIDATE {name}",
                f"ALTER TABLE {q(t)} VALIDATE CONSTRAINT {q(name)}",
            )
        elif want.kind in ("p", "u"):
            keyword = "PRIMARY KEY" if want.kind == "p" else "UNIQUE"
            drop = f"DROP CONSTRAINT {q(old_pk[t])}, " if want.kind == "p" and t in old_pk else ""
            plan.add(
                "keys",
                t,
                f"{t}.{name}",
                f"{t}: {keyword} {name} USING INDEX",
                f"ALTER TABLE {q(t)} {drop}ADD CONSTRAINT {q(name)} {keyword} "
                f"USING INDEX {q(want.index or name)}",
            )
        else:  # exclusion constraints have no online form; they are rare and small
            plan.add(
                "keys",
                t,
                f"{t}.{name}",
                f"{t}: ADD {name}",
                f"ALTER TABLE {q(t)} ADD CONSTRAINT {q(name)} {want.definition}",
            )
    for key, have in sorted(live.constraints.items()):
        t, name = key
        if key in target.constraints and key not in renamed:
            continue
        current = _legacy_name(name) if key in renamed else name
        if have.kind == "p" and any(
            c.kind == "p" and c.table == t for c in target.constraints.values()
        ):
            continue  # swapped in the "keys" step
        if have.kind in ("f", "c", "u", "x", "p"):
            plan.add(
                "drop_legacy",
                t,
                f"{t}.{current}",
                f"{t}: drop the legacy {current}",
                f"ALTER TABLE {q(t)} DROP CONSTRAINT IF EXISTS {q(current)}",
            )


def _policy_sql(p: Any, roles: Roles) -> str:
    kind = "PERMISSIVE" if p.permissive else "RESTRICTIVE"
    to = ", ".join(roles.render(r) for r in p.roles)
    sql = f"CREATE POLICY {q(p.name)} ON {q(p.table)} AS {kind} FOR {p.command} TO {to}"
    if p.using is not None:
        sql += f" USING ({p.using})"
    if p.check is not None:
        sql += f" WITH CHECK ({p.check})"
    return sql


def _policies(
    plan: Plan, target: Snapshot, live: Snapshot, roles: Roles, tables: list[str]
) -> None:
    for key, want in sorted(target.policies.items()):
        t, name = key
        have = live.policies.get(key)
        if have == want:
            continue
        drop = [f"DROP POLICY IF EXISTS {q(name)} ON {q(t)}"] if have is not None else []
        plan.add(
            "policies", t, f"{t}.{name}", f"{t}: policy {name}", *drop, _policy_sql(want, roles)
        )
    for key in sorted(set(live.policies) - set(target.policies)):
        t, name = key
        plan.add(
            "policies",
            t,
            f"{t}.{name}.drop",
            f"{t}: drop the policy {name}",
            f"DROP POLICY IF EXISTS {q(name)} ON {q(t)}",
        )
    for t in tables:
        want_t, have_t = target.tables[t], live.tables[t]
        # (step suffix, wanted, live, verb to turn it on, verb to turn it off)
        for suffix, wanted, live_on, on, off in (
            ("enable", want_t.rls, have_t.rls, "ENABLE", "DISABLE"),
            ("force", want_t.force_rls, have_t.force_rls, "FORCE", "NO FORCE"),
        ):
            if wanted != live_on:
                verb = on if wanted else off
                plan.add(
                    "rls",
                    t,
                    f"{t}.{suffix}",
                    f"{t}: {verb} ROW LEVEL SECURITY",
                    f"ALTER TABLE {q(t)} {verb} ROW LEVEL SECURITY",
                )


def _grants(plan: Plan, target: Snapshot, live: Snapshot, roles: Roles) -> None:
    pairs: list[tuple[str, str, dict[str, list[str]], dict[str, list[str]]]] = [
        (name, "TABLE", t.grants, live.tables[name].grants)
        for name, t in target.tables.items()
        if name in live.tables
    ] + [
        (name, "SEQUENCE", g, live.sequences[name])
        for name, g in target.sequences.items()
        if name in live.sequences
    ]
    for name, kind, want, have in sorted(pairs):
        for grantee in sorted(set(want) | set(have)):
            if grantee == "{migrator}":
                continue  # the owner's own rights are implicit
            add = sorted(set(want.get(grantee, [])) - set(have.get(grantee, [])))
            remove = sorted(set(have.get(grantee, [])) - set(want.get(grantee, [])))
            who = roles.render(grantee)
            if add:
                plan.add(
                    "grants",
                    name,
                    f"{name}.{grantee}.grant",
                    f"{name}: grant to {who}",
                    f"GRANT {', '.join(add)} ON {kind} {q(name)} TO {who}",
                )
            if remove:
                plan.add(
                    "grants",
                    name,
                    f"{name}.{grantee}.revoke",
                    f"{name}: revoke from {who}",
                    f"REVOKE {', '.join(remove)} ON {kind} {q(name)} FROM {who}",
                )


# ---------------------------------------------------------------- running the plan


class TightenError(Exception):
    pass


# Index builds sort and FK validations hash in this much memory (PostgreSQL runs the
# validation query with work_mem = maintenance_work_mem); the default 64MB spills a
# million-row table's sort to disk. Per session, for tighten's connection only.
MAINTENANCE_WORK_MEM = "256MB"


@dataclass
class Runner:
    conninfo: str
    lock_timeout_ms: int = 200
    max_attempts: int = 50
    on_retry: Callable[[Step, int], None] | None = None
    retries: int = 0
    _conn: psycopg.Connection[Any] | None = None

    def run(self, step: Step) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._once(step)
                return
            except errors.LockNotAvailable:
                self.retries += 1
                if self.on_retry:
                    self.on_retry(step, attempt)
                if step.index:
                    self._drop_invalid(step.index)
                # Jittered, growing pause: writers get the table back in between.
                time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)) * (0.5 + random.random()))  # noqa: S311
            except psycopg.Error as exc:
                if step.index:
                    self._drop_invalid(step.index)
                raise TightenError(
                    f"step {step.key} ({step.what}) failed: {' '.join(str(exc).split())}"
                ) from exc
        raise TightenError(
            f"step {step.key} ({step.what}): no lock within {self.lock_timeout_ms} ms in "
            f"{self.max_attempts} attempts; a long transaction holds the table — rerun later"
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> psycopg.Connection[Any]:
        """One autocommit connection for every step (a step is its own transaction)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.conninfo, autocommit=True)
            self._conn.execute(f"SET lock_timeout = {int(self.lock_timeout_ms)}")
            self._conn.execute("SET search_path = public")
            self._conn.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        return self._conn

    def _once(self, step: Step) -> None:
        conn = self._connection()
        log = (
            "insert into tenantry_legacy.tighten_log (step, phase) values (%s, %s) "
            "on conflict (step) do update set done_at = now()"
        )
        if step.concurrent:  # CONCURRENTLY cannot run inside a transaction block
            for statement in step.sql:
                conn.execute(statement.encode())
            conn.execute(log, (step.key, step.phase))
            return
        with conn.transaction():
            for statement in step.sql:
                conn.execute(statement.encode())
            conn.execute(log, (step.key, step.phase))

    def _drop_invalid(self, index: str) -> None:
        conn = self._connection()
        row = conn.execute(
            "select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relname = %s",
            (index,),
        ).fetchone()
        if row is not None and not row[0]:
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {q(index)}".encode())

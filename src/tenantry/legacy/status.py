"""``tenantry legacy status``: where the journey stands, per table and per tighten phase."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tenantry.db.bootstrap import DatabaseUrls
from tenantry.legacy import state
from tenantry.legacy.catalogue import read_snapshot
from tenantry.legacy.connect import connect
from tenantry.legacy.reference import cached_target
from tenantry.legacy.rules import RuleError, table_rules
from tenantry.legacy.shape import check_shape
from tenantry.legacy.state import SCHEMA
from tenantry.legacy.tighten import PHASES, Roles, make_plan, q


@dataclass
class TableStatus:
    table: str
    nulls_left: int | None  # None: no tenant_id column yet
    rows_done: int
    null_at_start: int
    checkpoint: str | None
    done: bool
    orphans: int
    conflicts: int
    quarantined: int


@dataclass
class Status:
    database: str
    head: str | None
    reference_cached: bool
    tables: list[TableStatus] = field(default_factory=list)
    tighten: dict[str, dict[str, int]] = field(default_factory=dict)  # phase -> done/pending
    tighten_complete: bool = False
    stamped: str | None = None
    shape_problems: list[str] = field(default_factory=list)
    run: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_status(urls: DatabaseUrls) -> Status:
    with connect(urls.migrator) as conn:
        state.ensure(conn)
        cached = cached_target(conn)
        status = Status(urls.database, cached[0] if cached else None, cached is not None)
        live = read_snapshot(conn)
        stamped = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
        if stamped and stamped[0]:
            row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
            status.stamped = row[0] if row else None
        run = conn.execute(
            f"SELECT id, policy, started_at, finished_at FROM {SCHEMA}.runs "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if run:
            status.run = {
                "id": run[0],
                "policy": run[1],
                "started_at": str(run[2]),
                "finished_at": str(run[3]) if run[3] else None,
            }
        if cached is None:
            tables = sorted(n for n, t in live.tables.items() if t.tenant_owned)
        else:
            target = cached[1]
            shape = check_shape(target, live)
            status.shape_problems = shape.fatal + shape.tenant_column_problems()
            try:
                tables = [r.table for r in table_rules(target)]
            except RuleError as exc:
                status.shape_problems.append(str(exc))
                tables = target.tenant_tables()
            _tighten_status(conn, status, target, live, urls)
        for table in tables:
            status.tables.append(_table_status(conn, table, live))
        conn.rollback()
    return status


def _tighten_status(conn: Any, status: Status, target: Any, live: Any, urls: DatabaseUrls) -> None:
    pending = make_plan(target, live, Roles(urls.app_role, urls.migrator_role, urls.worker_role))
    done = dict(
        conn.execute(f"SELECT phase, count(*) FROM {SCHEMA}.tighten_log GROUP BY phase").fetchall()
    )
    for phase in PHASES:
        status.tighten[phase] = {
            "done": int(done.get(phase, 0)),
            "pending": sum(1 for s in pending if s.phase == phase),
        }
    status.tighten_complete = not pending and status.stamped == status.head


def _table_status(conn: Any, table: str, live: Any) -> TableStatus:
    nulls = None
    if table in live.tables and "tenant_id" in live.tables[table].columns:
        row = conn.execute(f"SELECT count(*) FROM public.{q(table)} WHERE tenant_id IS NULL")
        nulls = int(row.fetchone()[0])
    cp = conn.execute(
        f"SELECT (SELECT 'page ' || sum(next_page - start_page) || ' of ' || sum(end_page "
        f"- start_page) FROM {SCHEMA}.slices s WHERE s.table_name = c.table_name), done, "
        f"null_at_start, backfilled + assigned + quarantined "
        f"FROM {SCHEMA}.checkpoints c WHERE table_name = %s",
        (table,),
    ).fetchone()
    kinds = dict(
        conn.execute(
            f"SELECT kind, count(*) FROM {SCHEMA}.problems WHERE table_name = %s GROUP BY kind",
            (table,),
        ).fetchall()
    )
    quarantined = conn.execute(
        f"SELECT count(*) FROM {SCHEMA}.quarantine WHERE table_name = %s", (table,)
    ).fetchone()
    return TableStatus(
        table=table,
        nulls_left=nulls,
        rows_done=int(cp[3]) if cp else 0,
        null_at_start=int(cp[2]) if cp else 0,
        checkpoint=str(cp[0]) if cp and cp[0] else None,
        done=bool(cp[1]) if cp else False,
        orphans=int(kinds.get("orphan", 0)),
        conflicts=int(kinds.get("conflict", 0)),
        quarantined=int(quarantined[0]) if quarantined else 0,
    )

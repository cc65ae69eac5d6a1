"""``tenantry legacy tighten`` as a command: refuse while NULLs remain, run the plan,
stamp Alembic, verify with the schema audit."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from alembic import command
from sqlalchemy import create_engine, text

from tenantry.audit import Finding, audit_schema
from tenantry.db.migrate import alembic_config
from tenantry.legacy.connect import connect, conninfo
from tenantry.legacy.context import Context, LegacyError, exclusive
from tenantry.legacy.tighten import Roles, Runner, Step, make_plan, q


@dataclass
class TightenResult:
    steps: list[Step] = field(default_factory=list)
    retries: int = 0
    left_over: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def null_counts(ctx: Context) -> dict[str, int]:
    counts = {}
    with connect(ctx.urls.migrator) as conn:
        for rule in ctx.rules:
            row = conn.execute(
                f"SELECT count(*) FROM public.{q(rule.table)} WHERE tenant_id IS NULL".encode()
            ).fetchone()
            if row and row[0]:
                counts[rule.table] = int(row[0])
        if ctx.shape.users_have_tenant:
            row = conn.execute(
                "SELECT count(*) FROM public.users u WHERE u.tenant_id IS NOT NULL AND NOT "
                "EXISTS (SELECT 1 FROM public.tenant_memberships m WHERE m.user_id = u.id "
                "AND m.tenant_id = u.tenant_id)"
            ).fetchone()
            if row and row[0]:
                counts["users (tenant_id without a membership)"] = int(row[0])
    return counts


def plan(ctx: Context) -> list[Step]:
    return make_plan(
        ctx.target, ctx.live, Roles(ctx.urls.app_role, ctx.urls.migrator_role, ctx.urls.worker_role)
    )


def run_tighten(
    ctx: Context,
    *,
    lock_timeout_ms: int = 200,
    on_step: Callable[[Step, int, int], None] = lambda step, i, n: None,
    on_retry: Callable[[Step, int], None] | None = None,
    jobs: int = 2,
) -> TightenResult:
    ctx.require_shape()
    if ctx.shape.missing_tenant_column:
        raise LegacyError("\n".join(ctx.shape.tenant_column_problems()))
    nulls = null_counts(ctx)
    if nulls:
        lines = "\n".join(f"  {table:40} {count:>12,}" for table, count in nulls.items())
        raise LegacyError(
            "tighten refuses: rows without a tenant remain (NOT NULL and the composite keys "
            f"would fail):\n{lines}\nrun `tenantry legacy backfill --orphans ...` first"
        )
    steps = plan(ctx)
    runners = [
        Runner(conninfo(ctx.urls.migrator), lock_timeout_ms=lock_timeout_ms, on_retry=on_retry)
        for _ in range(max(1, jobs))
    ]
    try:
        with exclusive(ctx.urls, "tighten"):
            _run_steps(steps, runners, on_step)
    finally:
        for runner in runners:
            runner.close()
    _stamp(ctx)
    with connect(ctx.urls.migrator) as conn:
        ctx.refresh(conn)
    engine = create_engine(ctx.urls.migrator)
    try:
        findings = audit_schema(engine)
    finally:
        engine.dispose()
    return TightenResult(steps, sum(r.retries for r in runners), plan(ctx), findings)


# Phases whose steps on different tables may run side by side: each scans or builds on
# its own table (index builds on "safe" plain indexes do not wait for one another;
# validations only read). A table's own steps always run in order, on one connection.
PARALLEL_PHASES = frozenset({"columns", "indexes", "checks", "foreign_keys"})


def _run_steps(
    steps: list[Step], runners: list[Runner], on_step: Callable[[Step, int, int], None]
) -> None:
    lock = threading.Lock()
    done = 0

    def run(runner: Runner, step: Step) -> None:
        nonlocal done
        with lock:
            done += 1
            on_step(step, done, len(steps))
        runner.run(step)

    for phase, group in itertools.groupby(steps, key=lambda s: s.phase):
        todo = list(group)
        if phase not in PARALLEL_PHASES or len(runners) == 1:
            for step in todo:
                run(runners[0], step)
            continue
        tables: dict[str, list[Step]] = {}
        for step in todo:
            tables.setdefault(step.table, []).append(step)
        queue = sorted(tables.values(), key=len, reverse=True)  # most work first

        def worker(runner: Runner, queue: list[list[Step]] = queue) -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    mine = queue.pop(0)
                for step in mine:
                    run(runner, step)

        with ThreadPoolExecutor(max_workers=len(runners)) as pool:
            for future in [pool.submit(worker, r) for r in runners]:
                future.result()


def _stamp(ctx: Context) -> None:
    engine = create_engine(ctx.urls.migrator)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.stamp(cfg, ctx.head)
            # A table stamp creates gets the app role's default DML; the revision is
            # the migrator's alone (audit rule app_alembic_version).
            conn.execute(text(f'REVOKE ALL ON alembic_version FROM "{ctx.urls.app_role}"'))
    finally:
        engine.dispose()

"""``tenantry legacy tighten`` as a command: refuse while NULLs remain, run the plan,
stamp Alembic, verify with the schema audit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alembic import command
from sqlalchemy import create_engine

from tenantry.audit import Finding, audit_schema
from tenantry.db.migrate import alembic_config
from tenantry.legacy.connect import connect, conninfo
from tenantry.legacy.context import Context, LegacyError
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
    return make_plan(ctx.target, ctx.live, Roles(ctx.urls.app_role, ctx.urls.migrator_role))


def run_tighten(
    ctx: Context,
    *,
    lock_timeout_ms: int = 200,
    on_step: Callable[[Step, int, int], None] = lambda step, i, n: None,
    on_retry: Callable[[Step, int], None] | None = None,
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
    runner = Runner(conninfo(ctx.urls.migrator), lock_timeout_ms=lock_timeout_ms, on_retry=on_retry)
    for i, step in enumerate(steps, 1):
        on_step(step, i, len(steps))
        runner.run(step)
    _stamp(ctx)
    with connect(ctx.urls.migrator) as conn:
        ctx.refresh(conn)
    engine = create_engine(ctx.urls.migrator)
    try:
        findings = audit_schema(engine)
    finally:
        engine.dispose()
    return TightenResult(steps, runner.retries, plan(ctx), findings)


def _stamp(ctx: Context) -> None:
    engine = create_engine(ctx.urls.migrator)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.stamp(cfg, ctx.head)
    finally:
        engine.dispose()

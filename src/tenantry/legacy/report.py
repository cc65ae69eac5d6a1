"""``report-nulls`` and ``backfill --dry-run``: what the backfill would do, changing nothing.

The seed's verification query counted NULL tenant_ids per table; this one also says how
many of them are derivable — *through* parents that are themselves NULL now (a work
order via its booking via the booking's client): the decision is simulated table by
table, parents first, into temporary tables, in one transaction that is rolled back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tenantry.legacy.connect import connect
from tenantry.legacy.context import Context
from tenantry.legacy.derive import SIM_HELPER, Derivation, user_tenants_sql
from tenantry.legacy.rules import TableRule
from tenantry.legacy.tighten import q


@dataclass
class NullReport:
    table: str
    rows: int
    null: int
    derivable: int
    orphans: int
    conflicts: int
    would_assign: int = 0
    column_missing: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def simulate(
    ctx: Context, rules: list[TableRule] | None = None, *, assign_tenant: str | None = None
) -> list[NullReport]:
    reports: list[NullReport] = []
    has_tenant = ctx.has_tenant
    with connect(ctx.urls.migrator) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for sql in user_tenants_sql(
            SIM_HELPER, users_have_tenant=ctx.shape.users_have_tenant, temp=True
        ):
            conn.execute(sql.encode())
        wanted = {r.table for r in (rules or ctx.rules)}
        for rule in ctx.rules:  # every table: children need their parents simulated
            derivation = Derivation(rule, has_tenant, helper=SIM_HELPER, sim=True)
            conn.execute(derivation.simulate_sql().encode(), {"assign": assign_tenant})
            if rule.table not in wanted:
                continue
            row = conn.execute(
                f"SELECT (SELECT count(*) FROM public.{q(rule.table)}), count(*), "
                "count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok AND orphan), "
                "count(*) FILTER (WHERE NOT ok AND NOT orphan), "
                "count(*) FILTER (WHERE NOT ok AND assignable) "
                f"FROM pg_temp.{q('sim_' + rule.table)}".encode()
            ).fetchone()
            assert row is not None
            reports.append(
                NullReport(rule.table, *_counts(row), column_missing=rule.table not in has_tenant)
            )
        conn.rollback()
    return reports


def _counts(row: Any) -> tuple[int, int, int, int, int, int]:
    rows, null, derivable, orphans, conflicts, assign = (int(v) for v in row)
    return rows, null, derivable, orphans, conflicts, assign

"""Row-level security (wall 5): the strict policy and the migration helpers.

Every tenant-owned table gets RLS ENABLEd and FORCEd (so even the owner is bound)
with one policy for USING and WITH CHECK::

    tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid

``current_setting(..., true)`` returns NULL when never set and ``''`` after a
transaction-local set has ended on that connection; ``NULLIF`` maps both to NULL, so
no tenant set means zero rows and failed writes — never an error, never every row.
The expression is stable, so PostgreSQL evaluates it once and can use the
tenant-led index.
"""

from __future__ import annotations

from typing import Any

TENANT_SETTING = "NULLIF(current_setting('app.current_tenant_id', true), '')::uuid"
USER_SETTING = "NULLIF(current_setting('app.current_user_id', true), '')::uuid"
POLICY_NAME = "tenant_isolation"


def strict_policy_sql(table: str) -> list[str]:
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}"',
        f'CREATE POLICY {POLICY_NAME} ON "{table}" FOR ALL '
        f"USING (tenant_id = {TENANT_SETTING}) WITH CHECK (tenant_id = {TENANT_SETTING})",
    ]


def enable_tenant_rls(op: Any, table: str) -> None:
    """Alembic helper: enable, force and attach the strict tenant policy."""
    for statement in strict_policy_sql(table):
        op.execute(statement)


def create_tenant_table(op: Any, table: str, *columns: Any, **kw: Any) -> None:
    """Alembic helper: create a tenant-owned table *and* its policy in one step.

    Use this instead of ``op.create_table`` for tenant-owned tables so the policy
    cannot be forgotten (``tenantry audit schema`` fails the build if it is anyway).
    """
    op.create_table(table, *columns, **kw)
    enable_tenant_rls(op, table)

"""Holding the jobs of a tenant that is not active, and releasing them on reactivation.

The worker checks the tenant's status before every task body (``runner.run_in_tenant``).
A job of a suspended (or archived) tenant does not run: its task name and arguments are
stored in that tenant's ``held_jobs`` (tenant-owned, RLS; ``runner._hold``) and the job
itself finishes.
Nothing is lost and nothing acts: a reminder is not mailed while its tenant is suspended.

``release_held_jobs`` — called by ``tenantry.tenants.held.release_held_work`` when the
tenant is active again — defers each held job afresh (due now) and deletes its row, in
one transaction, so a job is released exactly once.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.jobs.models import HeldJob


def release_held_jobs(db: Database, tenant_id: uuid.UUID) -> int:
    """Defer every held job of ``tenant_id`` again; return how many."""
    from tenantry.jobs.runner import defer

    with tenant_context(TenantContext(tenant_id=tenant_id, scope="tenant")), db.session() as s:
        rows = s.scalars(
            select(HeldJob).order_by(HeldJob.held_at, HeldJob.id).with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            defer(s, row.task_name, **row.args)
        if rows:
            s.execute(delete(HeldJob).where(HeldJob.id.in_([r.id for r in rows])))
        return len(rows)


def held_count(db: Database, tenant_id: uuid.UUID) -> int:
    with tenant_context(TenantContext(tenant_id=tenant_id, scope="tenant")), db.session() as s:
        return len(s.scalars(select(HeldJob.id)).all())

"""Held work of suspended tenants; one job per reminder, without locks.

* ``held_jobs`` (tenant-owned, strict RLS): jobs the worker met while their tenant was
  not active, deferred again on reactivation (``tenantry.tenants.held``).
* ``payment_events.held_at``: a signed payment event of a suspended tenant is stored
  with it set and applied on reactivation.
* ``scheduled_reminders.job_id``: each reminder's own sending job (cancelled with it).
* Jobs queued by the former per-tenant sender lose their procrastinate lock: a lock
  makes every later job with it wait for the earliest, however far in the future or
  however often it fails (issue 8, finding 4).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenantry.migrations.ddl import jsonb, now, tenant_table

revision = "20261130_0009"
down_revision = "20261130_0008"


def upgrade() -> None:
    tenant_table(
        "held_jobs",
        sa.Column("task_name", sa.String(100), nullable=False),
        jsonb("args"),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), server_default=now(), nullable=False),
    )
    op.create_index("ix_held_jobs_tenant_held", "held_jobs", ["tenant_id", "held_at"])

    op.add_column("payment_events", sa.Column("held_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_payment_events_tenant_held",
        "payment_events",
        ["tenant_id", "received_at"],
        postgresql_where=sa.text("held_at is not null"),
    )

    op.add_column("scheduled_reminders", sa.Column("job_id", sa.BigInteger()))
    op.execute(
        "UPDATE procrastinate_jobs SET lock = NULL "
        "WHERE task_name = 'reminders.send_due' AND status = 'todo' AND lock IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("scheduled_reminders", "job_id")
    op.drop_index("ix_payment_events_tenant_held", table_name="payment_events")
    op.drop_column("payment_events", "held_at")
    op.drop_index("ix_held_jobs_tenant_held", table_name="held_jobs")
    op.drop_table("held_jobs")

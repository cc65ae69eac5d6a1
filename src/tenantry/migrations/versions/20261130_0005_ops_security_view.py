"""The operator's security view: recent security events and per-minute traffic.

Two global tables (prefix ``ops_``, declared global in the schema audit), written by
the app role (default privileges grant it DML) and bounded by the writer's retention.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261130_0005"
down_revision = "20261127_0004"


def upgrade() -> None:
    op.create_table(
        "ops_security_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column(
            "occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("actor_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_label", sa.String(63), nullable=False),
        sa.Column("target_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("path", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_security_events")),
    )
    op.create_index("ix_ops_security_events_occurred_at", "ops_security_events", ["occurred_at"])
    op.create_table(
        "ops_traffic",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_label", sa.String(63), nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("errors", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("minute", "tenant_label", name=op.f("pk_ops_traffic")),
    )


def downgrade() -> None:
    op.drop_table("ops_traffic")
    op.drop_index("ix_ops_security_events_occurred_at", table_name="ops_security_events")
    op.drop_table("ops_security_events")

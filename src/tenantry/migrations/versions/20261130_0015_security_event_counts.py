"""Security events: one row may stand for several identical events (``count``).

The recorder writes repeats of one event within a write as one row with a count, so a
tenant hammering a refused route costs one row per write instead of one per request.
Existing rows stand for one event each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261130_0015"
down_revision = "20261130_0014"


def upgrade() -> None:
    op.add_column(
        "ops_security_events",
        sa.Column("count", sa.Integer(), server_default="1", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_ops_security_events_count_positive"), "ops_security_events", "count > 0"
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_ops_security_events_count_positive"), "ops_security_events", type_="check"
    )
    op.drop_column("ops_security_events", "count")

"""Services: a display position for the catalogue (bulk-set in catalogue settings)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261127_0004"
down_revision = "20261127_0003"


def upgrade() -> None:
    op.add_column(
        "services", sa.Column("position", sa.Integer(), server_default="0", nullable=False)
    )
    # op.f(): the name is final (see 0002's _check on the naming convention).
    op.create_check_constraint(
        op.f("ck_services_position_not_negative"), "services", "position >= 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_services_position_not_negative"), "services", type_="check")
    op.drop_column("services", "position")

"""Booking settings: the tenant's currency (prices and new invoices are shown in it)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261130_0014"
down_revision = "20261130_0013"


def upgrade() -> None:
    op.add_column(
        "booking_settings",
        sa.Column("currency", sa.String(3), server_default="USD", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_booking_settings_currency_iso"), "booking_settings", "currency ~ '^[A-Z]{3}$'"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_booking_settings_currency_iso"), "booking_settings", type_="check")
    op.drop_column("booking_settings", "currency")

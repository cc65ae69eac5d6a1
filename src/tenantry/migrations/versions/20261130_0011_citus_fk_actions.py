"""Foreign keys Citus accepts: no ON DELETE SET NULL on tenant-led composite keys.

Citus refuses ``ON DELETE SET NULL`` on a foreign key whose columns include the
distribution column (``tenant_id``), even when PostgreSQL 15's column list limits it to
the link column (``tenantry audit schema --citus``, rule ``citus_fk_action``). These five
links become plain (NO ACTION) keys. Nothing in Tenantry deletes a request, booking or
invoice on its own; a tenant's rows are deleted together by the cascade from
``tenants``, which a NO ACTION key allows (it is checked at the end of the statement).
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0011"
down_revision = "20261130_0010"

# (table, link column, referenced table)
LINKS = (
    ("bookings", "service_request_id", "service_requests"),
    ("work_orders", "service_request_id", "service_requests"),
    ("work_orders", "booking_id", "bookings"),
    ("invoices", "booking_id", "bookings"),
    ("payment_events", "invoice_id", "invoices"),
)


def _recreate(ondelete: str | None) -> None:
    for table, column, parent in LINKS:
        name = op.f(f"fk_{table}_{column}")
        op.drop_constraint(name, table, type_="foreignkey")
        op.create_foreign_key(
            name,
            table,
            parent,
            ["tenant_id", column],
            ["tenant_id", "id"],
            ondelete=f"SET NULL ({column})" if ondelete else None,
        )


def upgrade() -> None:
    _recreate(ondelete=None)


def downgrade() -> None:
    _recreate(ondelete="SET NULL")

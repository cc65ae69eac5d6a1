"""Business schema: every tenant-owned table of the service business, with RLS.

Rules kept by every table here (wall 5; ``tenantry audit schema`` re-checks them):

* ``tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE``, first column;
* primary key ``(tenant_id, id)``; every unique includes ``tenant_id``;
* every reference to another tenant-owned row is a composite foreign key
  ``(tenant_id, x_id) -> x(tenant_id, id)`` (to a member: ``tenant_memberships
  (tenant_id, user_id)``), so no row can point into another tenant. Nullable links use
  MATCH SIMPLE (a NULL link is not checked) and, where the parent may go away,
  ``ON DELETE SET NULL (x_id)`` — a bare SET NULL would null ``tenant_id`` too;
* an index on ``(tenant_id, x_id)`` behind every composite foreign key, so deleting a
  parent (or purging a tenant) does not scan the child table once per parent row;
* RLS ENABLEd + FORCEd with the strict policy, in the same step (``create_tenant_table``).

The app role gets SELECT/INSERT/UPDATE/DELETE through the migrator's default
privileges (``db.bootstrap``); nothing here grants more. The text of CHECK constraints
is duplicated in the models on purpose: a migration is frozen, models move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tenantry.migrations.ddl import created_at, jsonb, now, tenant_table, timestamps, uuid

revision = "20261127_0002"
down_revision = "20261127_0001"

SLUG_CHECK = "slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'"

# Creation order (parents first); dropped in reverse.
TABLES = (
    "services",
    "service_requests",
    "bookings",
    "work_orders",
    "invoices",
    "invoice_lines",
    "expenses",
    "attachments",
    "scheduled_reminders",
    "chat_messages",
    "posts",
    "contact_submissions",
    "idempotency_keys",
    "payment_events",
    "role_permissions",
    "booking_settings",
    "communication_settings",
    "thresholds",
)


def _ref(
    table: str, column: str, parent: str, *, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    """Composite reference to a row of ``parent`` in the same tenant."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{parent}.tenant_id", f"{parent}.id"],
        name=f"fk_{table}_{column}",
        ondelete=ondelete,
    )


def _member(table: str, column: str) -> sa.ForeignKeyConstraint:
    """Composite reference to a membership (a user *of this tenant*)."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        ["tenant_memberships.tenant_id", "tenant_memberships.user_id"],
        name=f"fk_{table}_{column}",
    )


def _check(table: str, name: str, condition: str) -> sa.CheckConstraint:
    # op.f(): the name is final. A plain string would go through the metadata's
    # "ck_%(table_name)s_%(constraint_name)s" convention a second time and come out as
    # ck_<table>_ck_<table>_<name> (which is what 0001's CHECK constraints are called).
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def _index(table: str, name: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{name}", table, list(columns))


def upgrade() -> None:
    t = "services"
    tenant_table(
        t,
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        *timestamps(),
        sa.UniqueConstraint("tenant_id", "slug", name="uq_services_tenant_id_slug"),
        _check(t, "slug_format", SLUG_CHECK),
        _check(t, "price_not_negative", "price_cents >= 0"),
        _check(t, "duration_positive", "duration_minutes > 0"),
    )
    _index(t, "tenant_active_name", "tenant_id", "active", "name")

    t = "service_requests"
    tenant_table(
        t,
        uuid("client_id"),
        uuid("assignee_id", nullable=True),
        uuid("service_id"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(16), server_default="submitted", nullable=False),
        sa.Column("priority", sa.String(16), server_default="normal", nullable=False),
        *timestamps(),
        _member(t, "client_id"),
        _member(t, "assignee_id"),
        _ref(t, "service_id", "services"),
        _check(
            t,
            "status_known",
            "status in ('submitted', 'triaged', 'assigned', 'in_progress', 'completed', 'cancelled')",
        ),
        _check(t, "priority_known", "priority in ('low', 'normal', 'high', 'urgent')"),
    )
    _index(t, "tenant_status_created", "tenant_id", "status", "created_at")
    _index(t, "tenant_client_created", "tenant_id", "client_id", "created_at")
    _index(t, "tenant_assignee_status", "tenant_id", "assignee_id", "status")
    _index(t, "tenant_service", "tenant_id", "service_id")

    t = "bookings"
    tenant_table(
        t,
        uuid("client_id"),
        uuid("assignee_id", nullable=True),
        uuid("service_id"),
        uuid("service_request_id", nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        *timestamps(),
        _member(t, "client_id"),
        _member(t, "assignee_id"),
        _ref(t, "service_id", "services"),
        _ref(t, "service_request_id", "service_requests", ondelete="SET NULL (service_request_id)"),
        _check(t, "status_known", "status in ('pending', 'confirmed', 'cancelled', 'completed')"),
        _check(t, "ends_after_start", "ends_at > starts_at"),
    )
    _index(t, "tenant_starts", "tenant_id", "starts_at")
    _index(t, "tenant_client_starts", "tenant_id", "client_id", "starts_at")
    _index(t, "tenant_assignee_starts", "tenant_id", "assignee_id", "starts_at")
    _index(t, "tenant_service", "tenant_id", "service_id")
    _index(t, "tenant_service_request", "tenant_id", "service_request_id")

    t = "work_orders"
    tenant_table(
        t,
        uuid("service_request_id", nullable=True),
        uuid("booking_id", nullable=True),
        uuid("assignee_id", nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(16), server_default="open", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        *timestamps(),
        _ref(t, "service_request_id", "service_requests", ondelete="SET NULL (service_request_id)"),
        _ref(t, "booking_id", "bookings", ondelete="SET NULL (booking_id)"),
        _member(t, "assignee_id"),
        _check(t, "status_known", "status in ('open', 'in_progress', 'done', 'cancelled')"),
    )
    _index(t, "tenant_status_due", "tenant_id", "status", "due_at")
    _index(t, "tenant_assignee_status", "tenant_id", "assignee_id", "status")
    _index(t, "tenant_service_request", "tenant_id", "service_request_id")
    _index(t, "tenant_booking", "tenant_id", "booking_id")

    t = "invoices"
    tenant_table(
        t,
        uuid("client_id"),
        uuid("booking_id", nullable=True),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("status", sa.String(8), server_default="draft", nullable=False),
        sa.Column("currency", sa.String(3), server_default="USD", nullable=False),
        sa.Column("total_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        *timestamps(),
        sa.UniqueConstraint("tenant_id", "number", name="uq_invoices_tenant_id_number"),
        _member(t, "client_id"),
        _ref(t, "booking_id", "bookings", ondelete="SET NULL (booking_id)"),
        _check(t, "status_known", "status in ('draft', 'sent', 'paid', 'void')"),
        _check(t, "currency_iso", "currency ~ '^[A-Z]{3}$'"),
        _check(t, "total_not_negative", "total_cents >= 0"),
        _check(t, "paid_has_paid_at", "status <> 'paid' or paid_at is not null"),
    )
    _index(t, "tenant_status_created", "tenant_id", "status", "created_at")
    _index(t, "tenant_client_created", "tenant_id", "client_id", "created_at")
    _index(t, "tenant_booking", "tenant_id", "booking_id")

    t = "invoice_lines"
    tenant_table(
        t,
        uuid("invoice_id"),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("quantity", sa.Integer(), server_default="1", nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        *timestamps(),
        _ref(t, "invoice_id", "invoices", ondelete="CASCADE"),
        _check(t, "quantity_positive", "quantity > 0"),
        _check(t, "amount_adds_up", "amount_cents = quantity * unit_price_cents"),
    )
    _index(t, "tenant_invoice_position", "tenant_id", "invoice_id", "position")

    t = "expenses"
    tenant_table(
        t,
        uuid("user_id"),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), server_default="submitted", nullable=False),
        *timestamps(),
        _member(t, "user_id"),
        _check(t, "status_known", "status in ('submitted', 'approved', 'rejected', 'reimbursed')"),
        _check(t, "amount_positive", "amount_cents > 0"),
    )
    _index(t, "tenant_incurred", "tenant_id", "incurred_on")
    _index(t, "tenant_user_incurred", "tenant_id", "user_id", "incurred_on")
    _index(t, "tenant_status", "tenant_id", "status")

    t = "attachments"
    tenant_table(
        t,
        uuid("service_request_id", nullable=True),
        uuid("expense_id", nullable=True),
        uuid("uploaded_by_id"),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.String(1024), nullable=False),
        sa.Column("scan_status", sa.String(16), server_default="pending", nullable=False),
        *timestamps(),
        sa.UniqueConstraint(
            "tenant_id", "storage_key", name="uq_attachments_tenant_id_storage_key"
        ),
        _ref(t, "service_request_id", "service_requests", ondelete="CASCADE"),
        _ref(t, "expense_id", "expenses", ondelete="CASCADE"),
        _member(t, "uploaded_by_id"),
        _check(t, "scan_known", "scan_status in ('pending', 'clean', 'infected')"),
        _check(t, "size_not_negative", "size_bytes >= 0"),
        _check(t, "one_parent", "num_nonnulls(service_request_id, expense_id) <= 1"),
    )
    _index(t, "tenant_service_request", "tenant_id", "service_request_id")
    _index(t, "tenant_expense", "tenant_id", "expense_id")
    _index(t, "tenant_uploaded_by", "tenant_id", "uploaded_by_id")

    t = "scheduled_reminders"
    tenant_table(
        t,
        uuid("service_request_id", nullable=True),
        uuid("booking_id", nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        jsonb("payload"),
        *timestamps(),
        _ref(t, "service_request_id", "service_requests", ondelete="CASCADE"),
        _ref(t, "booking_id", "bookings", ondelete="CASCADE"),
        _check(t, "channel_known", "channel in ('email', 'sms')"),
        _check(t, "status_known", "status in ('pending', 'sent', 'failed', 'cancelled')"),
        _check(t, "sent_has_sent_at", "status <> 'sent' or sent_at is not null"),
    )
    _index(t, "tenant_status_send", "tenant_id", "status", "send_at")
    _index(t, "tenant_service_request", "tenant_id", "service_request_id")
    _index(t, "tenant_booking", "tenant_id", "booking_id")
    # The job runner's cross-tenant "what is due" scan (system scope); partial, so small.
    op.create_index(
        "ix_scheduled_reminders_due", t, ["send_at"], postgresql_where=sa.text("status = 'pending'")
    )

    t = "chat_messages"
    tenant_table(
        t,
        uuid("service_request_id", nullable=True),
        uuid("sender_id"),
        sa.Column("body", sa.Text(), nullable=False),
        created_at(),
        _ref(t, "service_request_id", "service_requests", ondelete="CASCADE"),
        _member(t, "sender_id"),
        _check(t, "body_not_empty", "length(body) > 0"),
    )
    _index(t, "tenant_created", "tenant_id", "created_at")
    _index(t, "tenant_request_created", "tenant_id", "service_request_id", "created_at")
    _index(t, "tenant_sender", "tenant_id", "sender_id")

    t = "posts"
    tenant_table(
        t,
        uuid("author_id"),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(16), server_default="draft", nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        *timestamps(),
        sa.UniqueConstraint("tenant_id", "slug", name="uq_posts_tenant_id_slug"),
        _member(t, "author_id"),
        _check(t, "status_known", "status in ('draft', 'published')"),
        _check(t, "slug_format", SLUG_CHECK),
        _check(t, "published_has_date", "status <> 'published' or published_at is not null"),
    )
    _index(t, "tenant_status_published", "tenant_id", "status", "published_at")
    _index(t, "tenant_author", "tenant_id", "author_id")

    t = "contact_submissions"
    tenant_table(
        t,
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        created_at(),
    )
    _index(t, "tenant_created", "tenant_id", "created_at")

    t = "idempotency_keys"
    tenant_table(
        t,
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("request_hash", sa.String(128), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", JSONB(), nullable=True),
        created_at(),
        sa.UniqueConstraint("tenant_id", "key", name="uq_idempotency_keys_tenant_id_key"),
    )

    t = "payment_events"
    tenant_table(
        t,
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("provider_event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        uuid("invoice_id", nullable=True),
        jsonb("payload"),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=now(), nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "provider_event_id", name="uq_payment_events_tenant_id_provider_event_id"
        ),
        _ref(t, "invoice_id", "invoices", ondelete="SET NULL (invoice_id)"),
    )
    _index(t, "tenant_invoice", "tenant_id", "invoice_id")

    t = "role_permissions"
    tenant_table(
        t,
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("permission", sa.String(100), nullable=False),
        created_at(),
        sa.UniqueConstraint(
            "tenant_id", "role", "permission", name="uq_role_permissions_tenant_id_role_permission"
        ),
        _check(t, "role_known", "role in ('owner', 'admin', 'staff', 'client')"),
    )

    # Per-tenant singletons: the unique on tenant_id allows at most one row per tenant.
    t = "booking_settings"
    tenant_table(
        t,
        sa.Column("timezone", sa.String(64), server_default="UTC", nullable=False),
        sa.Column("slot_minutes", sa.Integer(), server_default="30", nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), server_default="60", nullable=False),
        sa.Column("max_advance_days", sa.Integer(), server_default="90", nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("allow_client_cancellation", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("cancellation_notice_hours", sa.Integer(), server_default="24", nullable=False),
        jsonb("business_hours"),
        *timestamps(),
        sa.UniqueConstraint("tenant_id", name="uq_booking_settings_tenant_id"),
        _check(t, "slot_positive", "slot_minutes > 0"),
        _check(
            t,
            "windows_valid",
            "min_notice_minutes >= 0 and max_advance_days > 0 and buffer_minutes >= 0"
            " and cancellation_notice_hours >= 0",
        ),
    )

    t = "communication_settings"
    tenant_table(
        t,
        sa.Column("sender_name", sa.String(200), server_default="", nullable=False),
        sa.Column("reply_to", sa.String(320), nullable=True),
        sa.Column("email_enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("sms_enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("reminder_lead_minutes", sa.Integer(), server_default="1440", nullable=False),
        jsonb("templates"),
        *timestamps(),
        sa.UniqueConstraint("tenant_id", name="uq_communication_settings_tenant_id"),
        _check(t, "lead_not_negative", "reminder_lead_minutes >= 0"),
    )

    t = "thresholds"
    tenant_table(
        t,
        sa.Column("expense_approval_cents", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("invoice_overdue_days", sa.Integer(), server_default="30", nullable=False),
        sa.Column("request_response_hours", sa.Integer(), server_default="24", nullable=False),
        *timestamps(),
        sa.UniqueConstraint("tenant_id", name="uq_thresholds_tenant_id"),
        _check(
            t,
            "not_negative",
            "expense_approval_cents >= 0 and invoice_overdue_days >= 0"
            " and request_response_hours >= 0",
        ),
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

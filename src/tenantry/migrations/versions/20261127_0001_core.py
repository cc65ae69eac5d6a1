"""Core tables: tenants, users, tenant memberships (tenant-owned, RLS)."""

import sqlalchemy as sa
from alembic import op

from tenantry.isolation.rls import USER_SETTING, create_tenant_table
from tenantry.migrations.ddl import as_app

revision = "20261127_0001"
down_revision = None

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("primary_domain", sa.String(253), nullable=True),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        sa.UniqueConstraint("primary_domain", name="uq_tenants_primary_domain"),
        sa.CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name=op.f("ck_tenants_slug_dns_label")),
        sa.CheckConstraint(
            "status in ('active', 'suspended', 'archived')", name=op.f("ck_tenants_status_known")
        ),
        sa.CheckConstraint(
            "primary_domain = lower(primary_domain)", name=op.f("ck_tenants_domain_lowercase")
        ),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), server_default="", nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_superadmin", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_tenant_id", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.ForeignKeyConstraint(
            ["last_tenant_id"],
            ["tenants.id"],
            ondelete="SET NULL",
            name="fk_users_last_tenant_id_tenants",
        ),
    )
    op.create_index("uq_users_email_lower", "users", [sa.text("lower(email)")], unique=True)
    create_tenant_table(
        op,
        "tenant_memberships",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_tenant_memberships"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            ondelete="CASCADE",
            name="fk_tenant_memberships_tenant_id_tenants",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            ondelete="CASCADE",
            name="fk_tenant_memberships_user_id_users",
        ),
        sa.CheckConstraint(
            "role in ('owner', 'admin', 'staff', 'client')",
            name=op.f("ck_tenant_memberships_role_known"),
        ),
        sa.CheckConstraint(
            "status in ('active', 'removed')", name=op.f("ck_tenant_memberships_status_known")
        ),
    )
    op.create_index("ix_tenant_memberships_user_id", "tenant_memberships", ["user_id"])
    # A signed-in user may list their own memberships across tenants (tenant switcher)
    # through this second strict, read-only policy keyed on the user setting — the
    # tenant policy itself is never loosened.
    op.execute(
        "CREATE POLICY member_self_read ON tenant_memberships FOR SELECT "
        f"USING (user_id = {USER_SETTING})"
    )
    # Tenants are provisioned and suspended by lifecycle jobs (migrator); the app reads.
    as_app("REVOKE INSERT, UPDATE, DELETE ON tenants FROM %I")


def downgrade() -> None:
    op.drop_table("tenant_memberships")
    op.drop_table("users")
    op.drop_table("tenants")

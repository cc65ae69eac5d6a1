"""Tenant lifecycle: the platform audit log, and slug skeletons for look-alike checks.

Global on purpose (declared in ``tenantry audit schema``'s GLOBAL_TABLES): an entry
outlives the tenant it names, so the purge of a tenant is itself on record. The
tenant is therefore ``target_tenant_id`` without a foreign key (a ``tenant_id``
column would make the table tenant-owned, and the cascade would erase the record).

Append-only, twice over:
* the app role may SELECT and INSERT, never UPDATE, DELETE or TRUNCATE (revoked);
* a trigger refuses UPDATE, DELETE and TRUNCATE for every role, the migrator (the
  owner) included — only dropping the trigger, a schema change, could alter history.

``tenants.slug_skeleton`` holds each slug's look-alike class (``tenants.slugs``); a
new slug whose skeleton is taken is refused. Not unique: slugs from before this
revision may already collide, and provisioning checks under an advisory lock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tenantry.migrations.ddl import as_app

revision = "20261130_0007"
down_revision = "20261130_0006"


# A frozen copy of tenants.slugs.skeleton at this revision (migrations never import
# code that moves on).
def _skeleton(slug: str) -> str:
    out = slug.translate(str.maketrans("01i", "oll"))
    for seq, rep in (("rn", "m"), ("vv", "w"), ("cl", "d")):
        out = out.replace(seq, rep)
    return out


def upgrade() -> None:
    op.add_column("tenants", sa.Column("slug_skeleton", sa.String(63), nullable=True))
    conn = op.get_bind()
    for tenant_id, slug in conn.execute(sa.text("select id, slug from tenants")).all():
        conn.execute(
            sa.text("update tenants set slug_skeleton = :s where id = :i"),
            {"s": _skeleton(slug), "i": tenant_id},
        )
    op.create_index("ix_tenants_slug_skeleton", "tenants", ["slug_skeleton"])
    op.create_table(
        "platform_audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_tenant_id", sa.Uuid(), nullable=True),
        sa.Column("target_slug", sa.String(63), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_platform_audit_log"),
        sa.CheckConstraint(
            "length(btrim(reason)) > 0", name=op.f("ck_platform_audit_log_reason_given")
        ),
        sa.CheckConstraint(
            "length(btrim(actor)) > 0", name=op.f("ck_platform_audit_log_actor_given")
        ),
    )
    op.create_index(
        "ix_platform_audit_log_target_tenant_id", "platform_audit_log", ["target_tenant_id", "id"]
    )
    op.create_index("ix_platform_audit_log_at", "platform_audit_log", ["at"])
    op.execute(
        """
        CREATE FUNCTION platform_audit_log_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'platform_audit_log is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER platform_audit_log_no_change BEFORE UPDATE OR DELETE ON platform_audit_log "
        "FOR EACH ROW EXECUTE FUNCTION platform_audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER platform_audit_log_no_truncate BEFORE TRUNCATE ON platform_audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION platform_audit_log_append_only()"
    )
    # The migrator's default privileges granted the app DML on every new table.
    as_app("REVOKE UPDATE, DELETE, TRUNCATE ON platform_audit_log FROM %I")


def downgrade() -> None:
    op.drop_index("ix_tenants_slug_skeleton", "tenants")
    op.drop_column("tenants", "slug_skeleton")
    op.drop_table("platform_audit_log")
    op.execute("DROP FUNCTION IF EXISTS platform_audit_log_append_only()")

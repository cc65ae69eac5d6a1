"""Accounts: verified e-mail addresses, e-mailed tokens, invitations, and the narrow
database paths that sign-in and joining need.

* ``users.email_verified_at``: an account signs in only once its owner proved the
  address. Accounts that exist already were made by operators or by the old invitation
  flow; they are marked verified here (they could sign in before, they still can).
* ``account_tokens``: the rows behind verification and reset links (global, one
  user's; RLS shows the app role only the pinned user's rows).
* ``invitations``: tenant-owned (strict tenant policy, like every tenant table).
* Three functions owned by the migrator, ``SECURITY DEFINER`` with a fixed
  ``search_path`` and EXECUTE granted to the app role only — the only ways the app
  reaches identity data outside the pinned tenant and user:

  - ``account_lookup(email)``: the account's id, whether it is verified, and its
    password *setting* (algorithm, parameters and salt) — never the hash's digest;
  - ``account_password_matches(user, candidate)``: whether a full hash the app
    computed with that setting equals the stored one. So signing in never reads a
    password hash: the app hashes the typed password with the account's salt and the
    database compares. Someone holding the app role can only guess online, one argon2
    computation per guess; there is no digest to take away and crack;
  - ``pending_invitations_of_current_user()``: the open invitations addressed to the
    verified e-mail of the user pinned in the transaction, with no tenant pinned;
  - ``defer_account_job(args)``: queue one account message (task ``accounts.send_mail``,
    queue ``accounts``, no tenant) in the caller's transaction. The job queue has forced
    RLS keyed on the job's tenant (``20261130_0010``), so the app role can neither insert
    nor read a job without one; this inserts exactly that kind of job and reads nothing
    back (the arguments carry no working token: the worker signs links when it sends).

  The app role's own privileges on ``users`` are narrowed in the next revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenantry.isolation.rls import create_tenant_table
from tenantry.migrations.ddl import (
    as_app,
    created_at,
    force_rls,
    owner_policy,
    tenant_columns,
    tenant_key,
)

revision = "20261130_0012"
down_revision = "20261130_0011"

# The one account task and its queue (tenantry.accounts.mail / tenantry.jobs).
ACCOUNT_TASK = "accounts.send_mail"
ACCOUNT_QUEUE = "accounts"

FUNCTIONS = (
    """
    CREATE FUNCTION account_lookup(p_email text)
    RETURNS TABLE (user_id uuid, email_verified boolean, password_setting text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT u.id, u.email_verified_at IS NOT NULL,
               substring(u.password_hash FROM '^(.*\\$)[^$]*$')
        FROM public.users u
        WHERE lower(u.email) = lower(p_email)
    $fn$
    """,
    """
    CREATE FUNCTION account_password_matches(p_user uuid, p_candidate text)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT coalesce(
            (SELECT u.password_hash = p_candidate FROM public.users u WHERE u.id = p_user),
            false)
    $fn$
    """,
    """
    CREATE FUNCTION pending_invitations_of_current_user()
    RETURNS TABLE (id uuid, tenant_id uuid, tenant_slug text, tenant_name text, role text,
                   name text, created_at timestamptz, expires_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        SELECT i.id, i.tenant_id, t.slug::text, t.name::text, i.role::text, i.name::text,
               i.created_at, i.expires_at
        FROM public.invitations i
        JOIN public.tenants t ON t.id = i.tenant_id
        JOIN public.users u ON lower(u.email) = i.email
        WHERE u.id = NULLIF(current_setting('app.current_user_id', true), '')::uuid
          AND NULLIF(current_setting('app.current_tenant_id', true), '') IS NULL
          AND u.email_verified_at IS NOT NULL
          AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
        ORDER BY i.created_at, i.id
    $fn$
    """,
    # public is on this one's path (after pg_catalog; nobody but the migrator may create
    # there) because procrastinate's insert triggers name its tables unqualified.
    f"""
    CREATE FUNCTION defer_account_job(p_args jsonb)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
    AS $fn$
    DECLARE
        job_id bigint;
    BEGIN
        IF p_args IS NULL OR jsonb_typeof(p_args) <> 'object' OR p_args ? 'tenant_id' THEN
            RAISE EXCEPTION 'an account job takes an object of arguments and no tenant_id'
                USING ERRCODE = '22023';
        END IF;
        INSERT INTO public.procrastinate_jobs (queue_name, task_name, args)
        VALUES ('{ACCOUNT_QUEUE}', '{ACCOUNT_TASK}', p_args)
        RETURNING id INTO job_id;
        RETURN job_id;
    END
    $fn$
    """,  # noqa: S608 - built from this module's constants only
)
SIGNATURES = (
    "account_lookup(text)",
    "account_password_matches(uuid, text)",
    "pending_invitations_of_current_user()",
    "defer_account_job(jsonb)",
)


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE users SET email_verified_at = created_at")

    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        # Not "tenant_id": a token is not a tenant's row (it is the user's); this is the
        # tenant a sign-up asked to join.
        sa.Column("signup_tenant_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_account_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_account_tokens_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["signup_tenant_id"],
            ["tenants.id"],
            ondelete="CASCADE",
            name="fk_account_tokens_signup_tenant_id_tenants",
        ),
        sa.CheckConstraint(
            "purpose in ('verify_email', 'reset_password')",
            name=op.f("ck_account_tokens_purpose_known"),
        ),
    )
    op.create_index("ix_account_tokens_user_id", "account_tokens", ["user_id"])
    force_rls("account_tokens")
    owner_policy("account_tokens", "token_owner")
    as_app("REVOKE DELETE, TRUNCATE ON account_tokens FROM %I")

    create_tenant_table(
        op,
        "invitations",
        *tenant_columns(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), server_default="", nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        created_at(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        *tenant_key("invitations"),
        sa.ForeignKeyConstraint(
            ["invited_by_id"], ["users.id"], ondelete="SET NULL",
            name="fk_invitations_invited_by_id_users",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"], ["users.id"], ondelete="SET NULL",
            name="fk_invitations_accepted_by_id_users",
        ),
        sa.CheckConstraint(
            "role in ('owner', 'admin', 'staff', 'client')", name=op.f("ck_invitations_role_known")
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_invitations_email_lowercase")),
    )  # fmt: skip
    op.create_index(
        "uq_invitations_pending_email",
        "invitations",
        ["tenant_id", "email"],
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.create_index("ix_invitations_email", "invitations", ["email"])
    as_app("REVOKE DELETE, TRUNCATE ON invitations FROM %I")

    for sql in FUNCTIONS:
        op.execute(sql)
    for signature in SIGNATURES:
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        as_app(f"GRANT EXECUTE ON FUNCTION {signature} TO %I")


def downgrade() -> None:
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.drop_table("invitations")
    op.drop_table("account_tokens")
    op.drop_column("users", "email_verified_at")

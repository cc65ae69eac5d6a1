"""Least privilege on identity: the app role's view of ``users`` and memberships.

Before: the app role read every row and column of ``users`` (every tenant's people and
every password hash) and could ``UPDATE users SET is_superadmin = true``; and the
``member_self_read`` policy on ``tenant_memberships`` was OR-ed with the tenant policy,
so with acme pinned a raw select also returned the caller's globex membership.

Chosen: column privileges AND row-level security on ``users``, plus the definer
functions of ``20261130_0012`` for the two things that must cross those lines.

* **No password hash is readable at all** by the app role (column privileges: SELECT on
  every column but ``password_hash``). Checking a password goes through
  ``account_lookup`` / ``account_password_matches``, which never return a digest. This is
  stronger than "only the pinned tenant's members' hashes" — which is all RLS alone could
  say, and RLS rests on settings the app role itself may set.
* **Rows**: RLS enabled and forced; the app role sees its pinned user's own row
  (``user_self``, every command) and, read-only, the users who are members of the pinned
  tenant (``user_tenant_member_read``) — nobody else's name or address.
* **Platform columns**: INSERT only of (id, email, name, password_hash, last_tenant_id,
  email_verified_at), UPDATE only of (name, password_hash, session_version,
  last_tenant_id, email_verified_at, updated_at). ``is_superadmin``, ``email``, ``id`` and
  ``created_at`` are the platform's: set by operators through the migrator, never by the
  app role. No DELETE, no TRUNCATE.
* ``member_self_read`` now applies only when no tenant is pinned (the tenant switcher's
  read): ``... AND app.current_tenant_id IS NULL``.

``tenantry audit schema`` checks each of these (``audit/identity.py``).
"""

from __future__ import annotations

from alembic import op

from tenantry.isolation.rls import TENANT_SETTING, USER_SETTING
from tenantry.migrations.ddl import as_app, force_rls, owner_policy

revision = "20261130_0013"
down_revision = "20261130_0012"

READABLE = (
    "id, email, name, is_superadmin, session_version, last_tenant_id, email_verified_at, "
    "created_at, updated_at"
)
INSERTABLE = "id, email, name, password_hash, last_tenant_id, email_verified_at"
UPDATABLE = "name, password_hash, session_version, last_tenant_id, email_verified_at, updated_at"


def upgrade() -> None:
    as_app("REVOKE ALL ON users FROM %I")
    as_app(f"GRANT SELECT ({READABLE}) ON users TO %I")
    as_app(f"GRANT INSERT ({INSERTABLE}) ON users TO %I")
    as_app(f"GRANT UPDATE ({UPDATABLE}) ON users TO %I")
    force_rls("users")
    owner_policy("users", "user_self", column="id")
    op.execute(
        "CREATE POLICY user_tenant_member_read ON users FOR SELECT USING (EXISTS ("  # noqa: S608
        "SELECT 1 FROM tenant_memberships m "
        f"WHERE m.user_id = users.id AND m.tenant_id = {TENANT_SETTING}))"
    )
    op.execute("DROP POLICY member_self_read ON tenant_memberships")
    op.execute(
        "CREATE POLICY member_self_read ON tenant_memberships FOR SELECT "
        f"USING (user_id = {USER_SETTING} AND {TENANT_SETTING} IS NULL)"
    )


def downgrade() -> None:
    op.execute("DROP POLICY member_self_read ON tenant_memberships")
    op.execute(
        f"CREATE POLICY member_self_read ON tenant_memberships FOR SELECT "
        f"USING (user_id = {USER_SETTING})"
    )
    op.execute("DROP POLICY user_tenant_member_read ON users")
    op.execute("DROP POLICY user_self ON users")
    op.execute("ALTER TABLE users NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE users DISABLE ROW LEVEL SECURITY")
    as_app("REVOKE ALL ON users FROM %I")
    as_app("GRANT SELECT, INSERT, UPDATE, DELETE ON users TO %I")

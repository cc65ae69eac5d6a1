"""Permission catalogue: the contact inbox joins the matrix; self-approval is a permission.

Until now the contact inbox was checked by role (owner and admin). It is now
``contact.read`` / ``contact.write`` in the role → permission matrix. Tenants on the
default matrix get them for admins by the catalogue's defaults; tenants that customised
the admin role keep a list of their own, so the admins there are given both here —
nobody loses the inbox they had. Staff never had it and get nothing.

``expenses.approve_own`` (deciding on one's own expense) is deliberately NOT given to
anyone here: an admin approving their own expense is what issue 8 closed. Owners hold
every permission anyway; a tenant that wants self-approval grants it explicitly.
"""

from __future__ import annotations

from alembic import op

revision = "20261130_0008"
down_revision = "20261130_0007"

NEW_FOR_ADMINS = ("contact.read", "contact.write")


def upgrade() -> None:
    # As the migrator (BYPASSRLS): every tenant's customised admin role at once.
    op.execute(
        """
        INSERT INTO role_permissions (tenant_id, role, permission)
        SELECT DISTINCT rp.tenant_id, 'admin', p.permission
        FROM role_permissions rp
        CROSS JOIN (VALUES ('contact.read'), ('contact.write')) AS p(permission)
        WHERE rp.role = 'admin'
        ON CONFLICT (tenant_id, role, permission) DO NOTHING
        """
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM role_permissions "
        "WHERE permission IN ('contact.read', 'contact.write', 'expenses.approve_own')"
    )

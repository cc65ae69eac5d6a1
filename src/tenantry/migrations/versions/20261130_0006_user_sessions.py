"""Server-side sessions: a row per sign-in, named in the session cookie.

The signed cookie alone was stateless, so ``POST /api/auth/logout`` could only ask the
browser to forget it: a copy saved before logout kept working until it timed out. Now
the cookie names a ``user_sessions`` row; logout deletes the row, and the route
dependency checks the row in the same query that reads the user's session version.

The table is global (a session belongs to a user, not a tenant). The app role sees and
changes only the rows of the user pinned in the transaction (``app.current_user_id``):
RLS enabled, forced, one policy for every command. It may not UPDATE or TRUNCATE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenantry.migrations.ddl import as_app, force_rls, owner_policy

revision = "20261130_0006"
down_revision = "20261130_0005"


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name="fk_user_sessions_user_id_users"
        ),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    force_rls("user_sessions")
    owner_policy("user_sessions", "session_owner")
    as_app("REVOKE UPDATE, TRUNCATE ON user_sessions FROM %I")


def downgrade() -> None:
    op.drop_table("user_sessions")

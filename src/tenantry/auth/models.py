"""Users (global identities) and their memberships in tenants (tenant-owned)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import Base, TenantOwned, Timestamped, uuid_pk

ROLES = ("owner", "admin", "staff", "client")
STAFF_ROLES = ("owner", "admin", "staff")


class User(Base, Timestamped):
    __tablename__ = "users"
    __table_args__ = (Index("uq_users_email_lower", func.lower("email"), unique=True),)

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Never loaded: the app role may not read it (see auth.accounts); raises if touched.
    password_hash: Mapped[str] = mapped_column(String(255), deferred=True, deferred_raiseload=True)
    # Platform columns: the database sets them (server defaults); the app role may not
    # write is_superadmin at all, so the ORM never sends it.
    is_superadmin: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # Bumped to kill every session of the user at once (logout everywhere).
    session_version: Mapped[int] = mapped_column(Integer, server_default="1")
    last_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL")
    )
    # Set when the owner proved the address (a verification, reset or invitation link).
    # An account without it cannot sign in anywhere.
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Membership(TenantOwned, Timestamped):
    """A user's role in one tenant. Removal keeps the row (status ``removed``) so the
    tenant's records that point at the member stay valid."""

    __tablename__ = "tenant_memberships"
    __table_args__ = (
        CheckConstraint("role in ('owner', 'admin', 'staff', 'client')", name="role_known"),
        CheckConstraint("status in ('active', 'removed')", name="status_known"),
        Index("ix_tenant_memberships_user_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")


class UserSession(Base):
    """One sign-in. The session cookie carries its id; logout deletes the row, so a copy
    of the cookie saved before is refused on its next use. Global (a user's, not a
    tenant's); RLS lets the app role see only the pinned user's rows."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


TOKEN_PURPOSES = ("verify_email", "reset_password")


class AccountToken(Base):
    """The row behind an e-mailed verification or password-reset link (the link holds
    its id, signed; see ``auth.tokens``). Global (a user's); RLS shows the app role only
    the pinned user's rows. ``signup_tenant_id``: where a sign-up asked to join as a client
    (deliberately not ``tenant_id``: the row is the user's, not the tenant's)."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint("purpose in ('verify_email', 'reset_password')", name="purpose_known"),
        Index("ix_account_tokens_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    signup_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

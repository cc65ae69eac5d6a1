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
    password_hash: Mapped[str] = mapped_column(String(255))
    is_superadmin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Bumped to kill every session of the user at once (logout everywhere).
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="SET NULL")
    )


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

"""Users (global identities) and their memberships in tenants (tenant-owned)."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, func
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

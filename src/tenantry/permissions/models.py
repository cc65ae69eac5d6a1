"""Which permissions each role has in a tenant (a tenant may tune its roles)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, uuid_pk


class RolePermission(TenantOwned):
    __tablename__ = "role_permissions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "role", "permission"),
        CheckConstraint("role in ('owner', 'admin', 'staff', 'client')", name="role_known"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    role: Mapped[str] = mapped_column(String(16))
    permission: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

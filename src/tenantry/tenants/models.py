"""The platform audit log's table (``tenants.audit_log`` writes and reads it).

Global, not tenant-owned: an entry outlives the tenant it names (see migration
``20261130_0007``). The tenants table itself is ``tenantry.db.tenant``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import Base


class AuditEntry(Base):
    __tablename__ = "platform_audit_log"
    __table_args__ = (
        CheckConstraint("length(btrim(reason)) > 0", name="reason_given"),
        CheckConstraint("length(btrim(actor)) > 0", name="actor_given"),
        Index("ix_platform_audit_log_target_tenant_id", "target_tenant_id", "id"),
        Index("ix_platform_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(320))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    action: Mapped[str] = mapped_column(String(64))
    target_tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    target_slug: Mapped[str | None] = mapped_column(String(63))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(String(64))

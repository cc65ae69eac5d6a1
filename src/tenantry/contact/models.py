"""Messages sent through a tenant's public contact form (public scope, tenant-owned)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, uuid_pk


class ContactSubmission(TenantOwned):
    __tablename__ = "contact_submissions"
    __table_args__ = (Index("ix_contact_submissions_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

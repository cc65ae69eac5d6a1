"""Attachment metadata. The bytes live in object storage under ``storage_key``."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, tenant_fk, uuid_pk

SCAN_STATUSES = ("pending", "clean", "infected")


class Attachment(TenantOwned, Timestamped):
    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "storage_key"),
        # An attachment goes with its parent.
        tenant_fk("attachments", "service_request_id", "service_requests", ondelete="CASCADE"),
        tenant_fk("attachments", "expense_id", "expenses", ondelete="CASCADE"),
        member_fk("attachments", "uploaded_by_id"),
        one_of("scan_status", SCAN_STATUSES, name="scan_known"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        CheckConstraint("num_nonnulls(service_request_id, expense_id) <= 1", name="one_parent"),
        Index("ix_attachments_tenant_service_request", "tenant_id", "service_request_id"),
        Index("ix_attachments_tenant_expense", "tenant_id", "expense_id"),
        Index("ix_attachments_tenant_uploaded_by", "tenant_id", "uploaded_by_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    service_request_id: Mapped[uuid.UUID | None]
    expense_id: Mapped[uuid.UUID | None]
    uploaded_by_id: Mapped[uuid.UUID]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # Object-storage key; expected to start with the tenant id so storage is split too.
    storage_key: Mapped[str] = mapped_column(String(1024))
    scan_status: Mapped[str] = mapped_column(
        String(16), default="pending", server_default="pending"
    )

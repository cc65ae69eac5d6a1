"""Attachment metadata. The bytes live in object storage under ``storage_key``."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, uuid_pk

SCAN_STATUSES = ("pending", "clean", "infected")


class Attachment(TenantOwned, Timestamped):
    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "storage_key"),
        # An attachment goes with its parent.
        ForeignKeyConstraint(
            ["tenant_id", "service_request_id"],
            ["service_requests.tenant_id", "service_requests.id"],
            name="fk_attachments_service_request_id",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "expense_id"],
            ["expenses.tenant_id", "expenses.id"],
            name="fk_attachments_expense_id",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "uploaded_by_id"],
            ["tenant_memberships.tenant_id", "tenant_memberships.user_id"],
            name="fk_attachments_uploaded_by_id",
        ),
        CheckConstraint("scan_status in ('pending', 'clean', 'infected')", name="scan_known"),
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

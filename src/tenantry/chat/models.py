"""Chat messages, optionally about a service request."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, member_fk, tenant_fk, uuid_pk


class ChatMessage(TenantOwned):
    __tablename__ = "chat_messages"
    __table_args__ = (
        tenant_fk("chat_messages", "service_request_id", "service_requests", ondelete="CASCADE"),
        member_fk("chat_messages", "sender_id"),
        CheckConstraint("length(body) > 0", name="body_not_empty"),
        Index("ix_chat_messages_tenant_created", "tenant_id", "created_at"),
        Index("ix_chat_messages_tenant_sender", "tenant_id", "sender_id"),
        Index(
            "ix_chat_messages_tenant_request_created",
            "tenant_id",
            "service_request_id",
            "created_at",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    service_request_id: Mapped[uuid.UUID | None]
    sender_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

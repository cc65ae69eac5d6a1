"""Payment events received from a provider; the unique key makes webhooks idempotent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, json_object, tenant_fk, uuid_pk


class PaymentEvent(TenantOwned):
    __tablename__ = "payment_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider_event_id"),
        tenant_fk("payment_events", "invoice_id", "invoices"),
        Index("ix_payment_events_tenant_invoice", "tenant_id", "invoice_id"),
        Index(
            "ix_payment_events_tenant_held",
            "tenant_id",
            "received_at",
            postgresql_where=text("held_at is not null"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider: Mapped[str] = mapped_column(String(40))
    provider_event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    invoice_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = json_object()
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Set while the event waits for its tenant to be active again (stored, not applied).
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

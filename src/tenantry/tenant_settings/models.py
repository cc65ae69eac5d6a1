"""Per-tenant singletons: at most one row per tenant, enforced by a unique on tenant_id."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, json_object, uuid_pk


class BookingSettings(TenantOwned, Timestamped):
    __tablename__ = "booking_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("slot_minutes > 0", name="slot_positive"),
        CheckConstraint(
            "min_notice_minutes >= 0 and max_advance_days > 0 and buffer_minutes >= 0"
            " and cancellation_notice_hours >= 0",
            name="windows_valid",
        ),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # ISO 4217: prices are shown, and new invoices made, in it.
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
    max_advance_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    allow_client_cancellation: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default="true"
    )
    cancellation_notice_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    # {"mon": [["09:00", "17:00"]], ...}
    business_hours: Mapped[dict[str, Any]] = json_object()


class CommunicationSettings(TenantOwned, Timestamped):
    __tablename__ = "communication_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("reminder_lead_minutes >= 0", name="lead_not_negative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    sender_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    reply_to: Mapped[str | None] = mapped_column(String(320))
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    sms_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    reminder_lead_minutes: Mapped[int] = mapped_column(Integer, default=1440, server_default="1440")
    templates: Mapped[dict[str, Any]] = json_object()


class Thresholds(TenantOwned, Timestamped):
    __tablename__ = "thresholds"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint(
            "expense_approval_cents >= 0 and invoice_overdue_days >= 0"
            " and request_response_hours >= 0",
            name="not_negative",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Expenses above this need an admin's approval (0: every expense does).
    expense_approval_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    invoice_overdue_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    request_response_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")

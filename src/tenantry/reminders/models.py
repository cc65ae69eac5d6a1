"""Scheduled reminders about a service request or a booking."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, json_object, one_of, tenant_fk, uuid_pk

REMINDER_CHANNELS = ("email", "sms")
REMINDER_STATUSES = ("pending", "sent", "failed", "cancelled")
TABLE = "scheduled_reminders"


class ScheduledReminder(TenantOwned, Timestamped):
    __tablename__ = TABLE
    __table_args__ = (
        # A reminder about something deleted has nothing left to remind of.
        tenant_fk(
            "scheduled_reminders", "service_request_id", "service_requests", ondelete="CASCADE"
        ),
        tenant_fk("scheduled_reminders", "booking_id", "bookings", ondelete="CASCADE"),
        one_of("channel", REMINDER_CHANNELS, name="channel_known"),
        one_of("status", REMINDER_STATUSES),
        CheckConstraint("status <> 'sent' or sent_at is not null", name="sent_has_sent_at"),
        Index("ix_scheduled_reminders_tenant_status_send", "tenant_id", "status", "send_at"),
        Index("ix_scheduled_reminders_tenant_service_request", "tenant_id", "service_request_id"),
        Index("ix_scheduled_reminders_tenant_booking", "tenant_id", "booking_id"),
        # The job runner's cross-tenant "what is due" scan (system scope); tiny, partial.
        Index(
            "ix_scheduled_reminders_due",
            "send_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    service_request_id: Mapped[uuid.UUID | None]
    booking_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(String(16))
    send_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The procrastinate job that sends it (cancelled with the reminder).
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = json_object()

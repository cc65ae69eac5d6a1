"""Bookings: a client's work on a service at a time (client, assignee and service links
from ``ServiceWork``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, one_of, tenant_fk, uuid_pk
from tenantry.services.models import ServiceWork

BOOKING_STATUSES = ("pending", "confirmed", "cancelled", "completed")


class Booking(TenantOwned, Timestamped, ServiceWork):
    __tablename__ = "bookings"
    __table_args__ = (
        *ServiceWork.keys("bookings"),
        # No ON DELETE action: Citus refuses SET NULL on a key that includes tenant_id
        # (even limited to the link column); nothing deletes a request on its own (a
        # tenant's rows go together, by cascade from tenants).
        tenant_fk("bookings", "service_request_id", "service_requests"),
        one_of("status", BOOKING_STATUSES),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_bookings_tenant_starts", "tenant_id", "starts_at"),
        # The overlap queries' bound (``ends_at > start``): migration 20261130_0016.
        Index("ix_bookings_tenant_ends", "tenant_id", "ends_at"),
        Index("ix_bookings_tenant_client_starts", "tenant_id", "client_id", "starts_at"),
        Index("ix_bookings_tenant_assignee_starts", "tenant_id", "assignee_id", "starts_at"),
        Index("ix_bookings_tenant_service_request", "tenant_id", "service_request_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    service_request_id: Mapped[uuid.UUID | None]
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")

"""Bookings. Client and assignee are memberships of the same tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, tenant_fk, uuid_pk
from tenantry.services.models import Service

BOOKING_STATUSES = ("pending", "confirmed", "cancelled", "completed")


class Booking(TenantOwned, Timestamped):
    __tablename__ = "bookings"
    __table_args__ = (
        member_fk("bookings", "client_id"),
        member_fk("bookings", "assignee_id"),
        tenant_fk("bookings", "service_id", "services"),
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
        Index("ix_bookings_tenant_service", "tenant_id", "service_id"),
        Index("ix_bookings_tenant_service_request", "tenant_id", "service_request_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID]
    assignee_id: Mapped[uuid.UUID | None]
    service_id: Mapped[uuid.UUID]
    service_request_id: Mapped[uuid.UUID | None]
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")

    service: Mapped[Service] = relationship(
        primaryjoin="and_(Booking.tenant_id == Service.tenant_id,"
        " foreign(Booking.service_id) == Service.id)",
        lazy="raise",
    )

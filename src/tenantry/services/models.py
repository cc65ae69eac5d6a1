"""The services a tenant offers. Referenced by requests and bookings."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, uuid_pk


class Service(TenantOwned, Timestamped):
    __tablename__ = "services"
    __table_args__ = (
        # The slug is unique per tenant, never globally: two tenants may both sell "cleaning".
        UniqueConstraint("tenant_id", "slug"),
        CheckConstraint("slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'", name="slug_format"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("position >= 0", name="position_not_negative"),
        Index("ix_services_tenant_active_name", "tenant_id", "active", "name"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price_cents: Mapped[int] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Display order in the catalogue (ascending; ties by name). Migration 20261127_0004.
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

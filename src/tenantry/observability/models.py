"""The operator's security view: two small global tables, bounded by retention.

``ops_security_events`` holds recent security events, fed by the security log: one
row per event, except that repeats of one event (same code, tenant, user, address and
path) within one write are one row with their ``count`` — a tenant hammering a refused
route costs one row per write, not one per request. ``ops_traffic`` holds requests
and server errors per minute and per tenant *label* (the same bounded label as the
metrics), so neither grows with the number of tenants. Both are platform data for the
operator, declared global in the schema audit (prefix ``ops_``); no tenant member can
reach them (the routes need the platform-operator role). The tenant columns are not
named ``tenant_id`` (that name marks a tenant-owned table to the audit) and have no
foreign key on purpose: an event outlives a purged tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import Base


class OpsSecurityEvent(Base):
    __tablename__ = "ops_security_events"
    __table_args__ = (
        Index("ix_ops_security_events_occurred_at", "occurred_at"),
        CheckConstraint("count > 0", name="count_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    code: Mapped[str] = mapped_column(String(64))
    actor_tenant_id: Mapped[uuid.UUID | None]
    tenant_label: Mapped[str] = mapped_column(String(63))
    target_tenant_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    client: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    path: Mapped[str | None] = mapped_column(String(300))
    # How many identical events this row stands for (the first one's time and request id).
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class OpsTraffic(Base):
    __tablename__ = "ops_traffic"

    minute: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    tenant_label: Mapped[str] = mapped_column(String(63), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

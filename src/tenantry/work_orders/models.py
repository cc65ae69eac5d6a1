"""Work orders. The assignee is a membership of the same tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, tenant_fk, uuid_pk

WORK_ORDER_STATUSES = ("open", "in_progress", "done", "cancelled")


class WorkOrder(TenantOwned, Timestamped):
    __tablename__ = "work_orders"
    __table_args__ = (
        tenant_fk("work_orders", "service_request_id", "service_requests"),
        tenant_fk("work_orders", "booking_id", "bookings"),
        member_fk("work_orders", "assignee_id"),
        one_of("status", WORK_ORDER_STATUSES),
        Index("ix_work_orders_tenant_status_due", "tenant_id", "status", "due_at"),
        Index("ix_work_orders_tenant_assignee_status", "tenant_id", "assignee_id", "status"),
        Index("ix_work_orders_tenant_service_request", "tenant_id", "service_request_id"),
        Index("ix_work_orders_tenant_booking", "tenant_id", "booking_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    service_request_id: Mapped[uuid.UUID | None]
    booking_id: Mapped[uuid.UUID | None]
    assignee_id: Mapped[uuid.UUID | None]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

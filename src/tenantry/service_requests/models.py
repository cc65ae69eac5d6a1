"""Service requests: a client's work on a service (client, assignee and service links
from ``ServiceWork``)."""

from __future__ import annotations

import uuid

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, one_of, uuid_pk
from tenantry.services.models import ServiceWork

REQUEST_STATUSES = ("submitted", "triaged", "assigned", "in_progress", "completed", "cancelled")
REQUEST_PRIORITIES = ("low", "normal", "high", "urgent")


class ServiceRequest(TenantOwned, Timestamped, ServiceWork):
    __tablename__ = "service_requests"
    __table_args__ = (
        *ServiceWork.keys("service_requests"),
        one_of("status", REQUEST_STATUSES),
        one_of("priority", REQUEST_PRIORITIES, name="priority_known"),
        Index("ix_service_requests_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_service_requests_tenant_client_created", "tenant_id", "client_id", "created_at"),
        Index("ix_service_requests_tenant_assignee_status", "tenant_id", "assignee_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="submitted", server_default="submitted")
    priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")

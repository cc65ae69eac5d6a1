"""Service requests. Client and assignee are memberships of the same tenant."""

from __future__ import annotations

import uuid

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, tenant_fk, uuid_pk
from tenantry.services.models import Service

REQUEST_STATUSES = ("submitted", "triaged", "assigned", "in_progress", "completed", "cancelled")
REQUEST_PRIORITIES = ("low", "normal", "high", "urgent")


class ServiceRequest(TenantOwned, Timestamped):
    __tablename__ = "service_requests"
    __table_args__ = (
        # Composite keys: a request can only point at a client, assignee or service of
        # its own tenant — the database refuses anything else, whatever the code does.
        member_fk("service_requests", "client_id"),
        member_fk("service_requests", "assignee_id"),
        tenant_fk("service_requests", "service_id", "services"),
        one_of("status", REQUEST_STATUSES),
        one_of("priority", REQUEST_PRIORITIES, name="priority_known"),
        Index("ix_service_requests_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_service_requests_tenant_client_created", "tenant_id", "client_id", "created_at"),
        Index("ix_service_requests_tenant_assignee_status", "tenant_id", "assignee_id", "status"),
        Index("ix_service_requests_tenant_service", "tenant_id", "service_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # User ids of memberships in this tenant (tenant_memberships(tenant_id, user_id)).
    client_id: Mapped[uuid.UUID]
    assignee_id: Mapped[uuid.UUID | None]
    service_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="submitted", server_default="submitted")
    priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")

    # Only service_id is foreign here: tenant_id is the row's own (set by the guard),
    # never copied from a related object.
    service: Mapped[Service] = relationship(
        primaryjoin="and_(ServiceRequest.tenant_id == Service.tenant_id,"
        " foreign(ServiceRequest.service_id) == Service.id)",
        lazy="raise",
    )

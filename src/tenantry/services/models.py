"""The services a tenant offers, and ``ServiceWork``: what requests and bookings (a
client's work on one of them) share."""

from __future__ import annotations

import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from tenantry.db.base import TenantOwned, Timestamped, member_fk, tenant_fk, uuid_pk


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


class ServiceWork:
    """A client's piece of work on one of the tenant's services, maybe given to someone
    of the staff (service requests, bookings). Client and assignee are user ids of
    memberships of the tenant; the composite keys (``keys``) let the database refuse a
    client, assignee or service of another tenant, whatever the code does."""

    client_id: Mapped[uuid.UUID]
    assignee_id: Mapped[uuid.UUID | None]
    service_id: Mapped[uuid.UUID]

    @declared_attr
    @classmethod
    def service(cls) -> Mapped[Service]:
        # Only service_id is foreign here: tenant_id is the row's own (set by the guard),
        # never copied from a related object.
        return relationship(
            primaryjoin=f"and_({cls.__name__}.tenant_id == Service.tenant_id,"
            f" foreign({cls.__name__}.service_id) == Service.id)",
            lazy="raise",
        )

    @staticmethod
    def keys(table: str) -> tuple[ForeignKeyConstraint | Index, ...]:
        """The work's three composite keys, and the index behind the service's."""
        return (
            member_fk(table, "client_id"),
            member_fk(table, "assignee_id"),
            tenant_fk(table, "service_id", "services"),
            Index(f"ix_{table}_tenant_service", "tenant_id", "service_id"),
        )

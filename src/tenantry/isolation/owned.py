"""The mark of a tenant-owned model, defined here so the guard needs nothing from ``db``.

``tenantry.db.base.TenantOwned`` (the declarative base of every tenant-owned table)
derives from ``TenantScoped``; the guard pins every subclass to the context's tenant
through the ``tenant_id`` declared here.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class TenantScoped:
    """Mixin: rows of this model belong to exactly one tenant (column ``tenant_id``)."""

    __tenant_owned__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
            sort_order=-100,  # first column, so the primary key index is led by tenant_id
        )

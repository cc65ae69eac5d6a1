"""The mark of a tenant-owned model, defined here so the guard needs nothing from ``db``.

``tenantry.db.base.TenantOwned`` (the declarative base of every tenant-owned table)
derives from ``TenantScoped``; the guard pins every subclass to the context's tenant.
"""

from __future__ import annotations


class TenantScoped:
    """Mixin: rows of this model belong to exactly one tenant (column ``tenant_id``)."""

    __tenant_owned__ = True

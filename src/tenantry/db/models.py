"""Every model module, imported once, so ``Base.metadata`` knows every table.

Alembic's env, the schema audit and anything that walks the metadata import this.
Add new model modules here.
"""

from __future__ import annotations

from tenantry.attachments import models as attachments
from tenantry.auth import models as auth
from tenantry.bookings import models as bookings
from tenantry.chat import models as chat
from tenantry.contact import models as contact
from tenantry.db.base import Base, TenantOwned
from tenantry.expenses import models as expenses
from tenantry.idempotency import models as idempotency
from tenantry.invoices import models as invoices
from tenantry.observability import models as observability
from tenantry.payments import models as payments
from tenantry.permissions import models as permissions
from tenantry.posts import models as posts
from tenantry.reminders import models as reminders
from tenantry.service_requests import models as service_requests
from tenantry.services import models as services
from tenantry.tenant_settings import models as tenant_settings
from tenantry.tenants import models as tenants
from tenantry.work_orders import models as work_orders

MODEL_MODULES = (
    tenants, auth, services, service_requests, bookings, work_orders, invoices, expenses,
    attachments, reminders, chat, posts, contact, idempotency, payments, permissions,
    tenant_settings, observability,
)  # fmt: skip


def tenant_owned_tables() -> list[str]:
    """Names of every tenant-owned table, in dependency order."""
    owned = {
        table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
        for table in mapper.tables
    }
    return [t.name for t in Base.metadata.sorted_tables if t.name in owned]


__all__ = ["MODEL_MODULES", "Base", "TenantOwned", "tenant_owned_tables"]

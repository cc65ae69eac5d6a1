"""The tenant's time zone and currency for every page: to any member of the tenant
(a client's pages show times and amounts as the business does) and, on a tenant's own
host, to anyone, with the tenant's name (its sign-in and public pages carry it)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tenantry.auth.dependencies import CurrentTenant, HostTenant, TenantSession
from tenantry.db.tenant import Tenant
from tenantry.errors import NotFound
from tenantry.routing import public_router, tenant_router
from tenantry.tenant_settings import service

member_router = tenant_router(prefix="/api/tenant", tags=["tenant"])
host_router = public_router(prefix="/api/public", tags=["tenant"])


class RegionalOut(BaseModel):
    timezone: str = Field(description="The tenant's IANA time zone.")
    currency: str = Field(description="The tenant's ISO 4217 currency.")


class PublicTenantOut(RegionalOut):
    slug: str
    name: str


@member_router.get("/locale")
def tenant_locale(ctx: CurrentTenant, session: TenantSession) -> RegionalOut:
    """The active tenant's time zone and currency (any member, clients included)."""
    regional = service.read(session, kind=service.BOOKING)
    return RegionalOut(timezone=regional.timezone, currency=regional.currency)


@host_router.get("/tenant", responses={404: {}})
def public_tenant(ctx: HostTenant, session: TenantSession) -> PublicTenantOut:
    """The tenant this host belongs to: its name, time zone and currency."""
    # The host's tenant row itself (the global tenants table, by the context's id).
    tenant = session.get(Tenant, ctx.tenant_id)
    if tenant is None:
        raise NotFound()
    regional = service.read(session, kind=service.BOOKING)
    return PublicTenantOut(
        slug=tenant.slug, name=tenant.name, timezone=regional.timezone, currency=regional.currency
    )

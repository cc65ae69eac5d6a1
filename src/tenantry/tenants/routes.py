"""The active tenant, as the caller sees it."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import select

from tenantry.auth.dependencies import CurrentTenant, HostTenant, TenantSession
from tenantry.auth.schemas import CurrentTenantOut, TenantOut
from tenantry.db.tenant import Tenant
from tenantry.errors import NotFound
from tenantry.routing import public_router as make_public_router
from tenantry.routing import tenant_router
from tenantry.tenant_settings import service as settings_service

router = tenant_router(prefix="/api/tenant", tags=["tenant"])
public_router = make_public_router(prefix="/api/public", tags=["tenant"])


class PublicTenantOut(BaseModel):
    slug: str
    name: str
    timezone: str
    currency: str


@router.get("/current", response_model=CurrentTenantOut)
def current_tenant(ctx: CurrentTenant, session: TenantSession) -> CurrentTenantOut:
    """The active tenant, the caller's role in it, and its time zone and currency."""
    tenant = session.scalar(select(Tenant).where(Tenant.id == ctx.tenant_id))
    if tenant is None or ctx.role is None:
        raise NotFound()
    # Time zone and currency come with the tenant so every page (a client's too) can
    # show times and amounts as the business does.
    regional = settings_service.read(session=session, kind=settings_service.BOOKING)
    return CurrentTenantOut(
        tenant=TenantOut(id=tenant.id, slug=tenant.slug, name=tenant.name, status=tenant.status),
        role=ctx.role,
        timezone=regional.timezone,
        currency=regional.currency,
    )


@public_router.get("/tenant", response_model=PublicTenantOut, responses={404: {}})
def public_tenant(ctx: HostTenant, session: TenantSession) -> PublicTenantOut:
    """The tenant this host belongs to: its name (the sign-in and public pages carry it),
    time zone and currency (its prices and opening times are shown in them)."""
    tenant = session.scalar(select(Tenant).where(Tenant.id == ctx.tenant_id))
    if tenant is None:
        raise NotFound()
    regional = settings_service.read(session=session, kind=settings_service.BOOKING)
    return PublicTenantOut(
        slug=tenant.slug, name=tenant.name, timezone=regional.timezone, currency=regional.currency
    )


routers = [router, public_router]

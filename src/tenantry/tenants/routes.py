"""The active tenant, as the caller sees it."""

from __future__ import annotations

from sqlalchemy import select

from tenantry.auth.dependencies import CurrentTenant, TenantSession
from tenantry.auth.schemas import CurrentTenantOut, TenantOut
from tenantry.db.tenant import Tenant
from tenantry.errors import NotFound
from tenantry.routing import tenant_router

router = tenant_router(prefix="/api/tenant", tags=["tenant"])


@router.get("/current")
def current_tenant(ctx: CurrentTenant, session: TenantSession) -> CurrentTenantOut:
    """The active tenant and the caller's role in it."""
    tenant = session.scalar(select(Tenant).where(Tenant.id == ctx.tenant_id))
    if tenant is None or ctx.role is None:
        raise NotFound()
    return CurrentTenantOut(
        tenant=TenantOut(id=tenant.id, slug=tenant.slug, name=tenant.name, status=tenant.status),
        role=ctx.role,
    )

"""Services: the admin catalogue (CRUD and active flags) and the public catalogue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from tenantry.auth.dependencies import HostTenant, TenantSession
from tenantry.db.unit import single_read
from tenantry.kit.actor import PortalClient
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import ServicesRead, ServicesWrite
from tenantry.routing import NO_CONTENT, NOT_FOUND, SLUG_TAKEN, public_router, tenant_router
from tenantry.services import service
from tenantry.services.models import Service
from tenantry.services.repository import services
from tenantry.services.schemas import (
    CatalogueEntry,
    CatalogueIn,
    CatalogueOut,
    PublicServiceOut,
    ServiceIn,
    ServiceOut,
    ServicePatch,
)

admin = tenant_router(prefix="/api/admin", tags=["services"])
public = public_router(prefix="/api/public", tags=["services"])
portal = tenant_router(prefix="/api/portal", tags=["portal"])
routers = [admin, public, portal]


@admin.get("/services")
def list_services(
    ctx: ServicesRead,
    session: TenantSession,
    page: Pagination,
    active: Annotated[bool | None, Query(description="Only active (or only retired).")] = None,
) -> Page[ServiceOut]:
    """The tenant's services, active and retired, in catalogue order."""
    return service.list_services(session, active=active, page=page).map(ServiceOut.model_validate)


@admin.post(
    "/services",
    status_code=status.HTTP_201_CREATED,
    responses=SLUG_TAKEN,
)
def create_service(ctx: ServicesWrite, session: TenantSession, body: ServiceIn) -> ServiceOut:
    """Add a service to the catalogue."""
    return ServiceOut.model_validate(service.create_service(session, data=body))


@admin.get("/services/{service_id}", responses=NOT_FOUND)
@single_read
def get_service(ctx: ServicesRead, session: TenantSession, service_id: uuid.UUID) -> ServiceOut:
    """One service of this tenant."""
    return ServiceOut.model_validate(services.row_or_404(session, service_id))


@admin.patch(
    "/services/{service_id}",
    responses={**NOT_FOUND, **SLUG_TAKEN},
)
def update_service(
    ctx: ServicesWrite, session: TenantSession, service_id: uuid.UUID, body: ServicePatch
) -> ServiceOut:
    """Change some fields of a service (only those sent)."""
    updated = service.update_service(session, service_id=service_id, data=body)
    return ServiceOut.model_validate(updated)


@admin.delete("/services/{service_id}", **NO_CONTENT, responses=NOT_FOUND)
def retire_service(ctx: ServicesWrite, session: TenantSession, service_id: uuid.UUID) -> None:
    """Retire a service: it leaves the public catalogue; existing bookings keep it."""
    service.retire_service(session, service_id=service_id)


def _catalogue_out(rows: list[Service]) -> CatalogueOut:
    entries = [CatalogueEntry.model_validate(r) for r in rows]
    return CatalogueOut(services=entries, active_count=sum(e.active for e in entries))


@admin.get("/settings/services")
def catalogue_settings(ctx: ServicesRead, session: TenantSession) -> CatalogueOut:
    """Every service of the tenant with its active flag, in catalogue order (the
    catalogue settings page)."""
    return _catalogue_out(service.catalogue(session))


@admin.put("/settings/services", responses=NOT_FOUND)
def set_catalogue_settings(
    ctx: ServicesWrite, session: TenantSession, body: CatalogueIn
) -> CatalogueOut:
    """Set the active flag and/or position of several services at once (all or nothing:
    an unknown id changes nothing and answers 404)."""
    return _catalogue_out(service.set_catalogue(session, data=body))


@public.get("/services", responses={404: {}})
def public_services(
    ctx: HostTenant, session: TenantSession, page: Pagination
) -> Page[PublicServiceOut]:
    """The active services of the tenant named by the host, in catalogue order."""
    active = service.list_services(session, active=True, page=page)
    return active.map(PublicServiceOut.model_validate)


@portal.get("/services")
def portal_services(
    client: PortalClient, session: TenantSession, page: Pagination
) -> Page[PublicServiceOut]:
    """The services a client can book in their active tenant, in catalogue order (the
    same list as the public catalogue, on any host)."""
    active = service.list_services(session, active=True, page=page)
    return active.map(PublicServiceOut.model_validate)

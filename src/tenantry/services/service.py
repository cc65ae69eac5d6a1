"""Business rules for the services catalogue. Flush only; the request commits."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tenantry.kit.pagination import Page, PageParams
from tenantry.services.errors import slug_taken
from tenantry.services.models import Service
from tenantry.services.repository import in_catalogue_order, many, next_position, services
from tenantry.services.schemas import CatalogueIn, ServiceIn, ServicePatch


def _check_slug(session: Session, slug: str | None, *, service_id: uuid.UUID | None = None) -> None:
    if services.taken(session, Service.slug, slug, except_id=service_id):
        raise slug_taken()


def list_services(session: Session, *, active: bool | None, page: PageParams) -> Page[Service]:
    return services.page(session, in_catalogue_order(active=active), page)


def create_service(session: Session, *, data: ServiceIn) -> Service:
    _check_slug(session, data.slug)
    values = data.model_dump()
    if values["position"] is None:
        values["position"] = next_position(session)
    return services.add(session, Service(**values))


def update_service(session: Session, *, service_id: uuid.UUID, data: ServicePatch) -> Service:
    found, changes = services.get_or_404(session, service_id), data.changes()
    _check_slug(session, changes.get("slug"), service_id=found.id)
    return services.update(session, found, changes)


def retire_service(session: Session, *, service_id: uuid.UUID) -> None:
    """Deactivate, never delete: bookings and requests keep pointing at the service."""
    services.get_or_404(session, service_id).active = False
    services.flush(session)


def catalogue(session: Session) -> list[Service]:
    return list(session.scalars(in_catalogue_order()))


def set_catalogue(session: Session, *, data: CatalogueIn) -> list[Service]:
    """Set many active flags and positions at once; all or nothing.

    Every id is looked up through the tenant-scoped repository first: an id of
    another tenant (or none at all) is simply not found, and nothing is changed.
    """
    wanted = {item.id: item for item in data.services}
    found = {s.id: s for s in many(session, ids=wanted)}
    if len(found) != len(wanted):
        raise services.not_found("One or more services do not exist.")
    for service_id, item in wanted.items():
        if item.active is not None:
            found[service_id].active = item.active
        if item.position is not None:
            found[service_id].position = item.position
    services.flush(session)
    return catalogue(session)

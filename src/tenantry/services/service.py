"""Business rules for the services catalogue. Flush only; the request commits."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.errors import Conflict, NotFound
from tenantry.kit.pagination import PageParams
from tenantry.services import repository
from tenantry.services.models import Service
from tenantry.services.schemas import CatalogueIn, ServiceIn, ServicePatch


class SlugTaken(Conflict):
    code = "slug_taken"
    message = "Another service of this tenant already uses this slug."


class ServiceNotFound(NotFound):
    message = "No such service."


def _flush(session: Session) -> None:
    """Flush in a savepoint so a unique race becomes 409, never a 500.

    The slug is checked first for a clean answer; the savepoint catches the race
    where two requests take the same slug at once. The message names nothing but
    the caller's own input.
    """
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise SlugTaken() from exc


def list_services(
    *, session: Session, active: bool | None, page: PageParams
) -> tuple[list[Service], int]:
    return repository.page(session, active=active, limit=page.limit, offset=page.offset)


def get_service(*, session: Session, service_id: uuid.UUID) -> Service:
    found = repository.get(session, service_id=service_id)
    if found is None:
        raise ServiceNotFound()
    return found


def create_service(*, session: Session, data: ServiceIn) -> Service:
    if repository.slug_in_use(session, slug=data.slug):
        raise SlugTaken()
    values = data.model_dump()
    if values["position"] is None:
        values["position"] = repository.next_position(session)
    created = Service(**values)
    session.add(created)
    _flush(session)
    return created


def update_service(*, session: Session, service_id: uuid.UUID, data: ServicePatch) -> Service:
    found = get_service(session=session, service_id=service_id)
    changes = data.changes()
    slug = changes.get("slug")
    if slug is not None and repository.slug_in_use(session, slug=slug, except_id=found.id):
        raise SlugTaken()
    for field, value in changes.items():
        setattr(found, field, value)
    _flush(session)
    return found


def retire_service(*, session: Session, service_id: uuid.UUID) -> None:
    """Deactivate, never delete: bookings and requests keep pointing at the service."""
    found = get_service(session=session, service_id=service_id)
    found.active = False
    session.flush()


def catalogue(*, session: Session) -> list[Service]:
    return repository.all_services(session)


def set_catalogue(*, session: Session, data: CatalogueIn) -> list[Service]:
    """Set many active flags and positions at once; all or nothing.

    Every id is looked up through the tenant-scoped repository first: an id of
    another tenant (or none at all) is simply not found, and nothing is changed.
    """
    wanted = {item.id: item for item in data.services}
    found = {s.id: s for s in repository.many(session, ids=wanted)}
    if len(found) != len(wanted):
        raise ServiceNotFound("One or more services do not exist.")
    for service_id, item in wanted.items():
        if item.active is not None:
            found[service_id].active = item.active
        if item.position is not None:
            found[service_id].position = item.position
    session.flush()
    return repository.all_services(session)


def public_catalogue(*, session: Session, page: PageParams) -> tuple[list[Service], int]:
    return repository.page(session, active=True, limit=page.limit, offset=page.offset)

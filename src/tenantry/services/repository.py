"""Services: the kit's repository, the catalogue order, and the look-ups other areas
check references against. Tenant scoping comes from the ORM guard and RLS."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tenantry.kit.repository import Repository, built_once
from tenantry.services.errors import slug_taken
from tenantry.services.models import Service

ORDER = (Service.position, Service.name, Service.id)

# The unique slug catches the race two creations with one slug would otherwise win.
services = Repository(
    Service, not_found="No such service.", constraints={"uq_services_tenant_id_slug": slug_taken}
)


@built_once
def in_catalogue_order(*, active: bool | None = None) -> Select[Service]:
    stmt = services.select().order_by(*ORDER)
    return stmt if active is None else stmt.where(Service.active == active)


def find(session: Session, *, service_id: uuid.UUID, active_only: bool = False) -> Service | None:
    """A service of this tenant (only an active one with ``active_only``)."""
    stmt = services.select().where(Service.id == service_id)
    if active_only:
        stmt = stmt.where(Service.active.is_(True))
    return session.scalar(stmt)


def many(session: Session, *, ids: Collection[uuid.UUID]) -> list[Service]:
    return list(session.scalars(services.select().where(Service.id.in_(list(ids)))))


def next_position(session: Session) -> int:
    last = session.scalar(select(func.max(Service.position)))
    return 0 if last is None else last + 1

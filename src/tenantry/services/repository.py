"""Queries on services. Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.services.models import Service

ORDER = (Service.position, Service.name, Service.id)


def get(session: Session, *, service_id: uuid.UUID) -> Service | None:
    return session.scalar(select(Service).where(Service.id == service_id))


def find(session: Session, *, service_id: uuid.UUID, active_only: bool = False) -> Service | None:
    """A service of this tenant (only an active one with ``active_only``)."""
    stmt = select(Service).where(Service.id == service_id)
    if active_only:
        stmt = stmt.where(Service.active.is_(True))
    return session.scalar(stmt)


def slug_in_use(session: Session, *, slug: str, except_id: uuid.UUID | None = None) -> bool:
    query = select(Service.id).where(Service.slug == slug)
    if except_id is not None:
        query = query.where(Service.id != except_id)
    return session.scalar(query.limit(1)) is not None


def page(
    session: Session, *, active: bool | None, limit: int, offset: int
) -> tuple[list[Service], int]:
    query = select(Service)
    if active is not None:
        query = query.where(Service.active == active)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*ORDER).limit(limit).offset(offset))
    return list(rows), total


def all_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(*ORDER)))


def many(session: Session, *, ids: Collection[uuid.UUID]) -> list[Service]:
    return list(session.scalars(select(Service).where(Service.id.in_(list(ids)))))


def next_position(session: Session) -> int:
    last = session.scalar(select(func.max(Service.position)))
    return 0 if last is None else last + 1

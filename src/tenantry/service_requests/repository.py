"""Queries for service requests.

No tenant filter is written here: the ORM guard adds it to every statement and RLS
enforces it. The ``client_id`` arguments are ownership filters (a client sees only
their own requests), which is a different thing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from tenantry.kit.repository import Repository
from tenantry.service_requests.errors import RequestNotFound
from tenantry.service_requests.models import ServiceRequest

# A request's client is its owner: a portal read passes ``owner=client.user_id``, and
# another client's request is as absent as one that never existed. Attachments and
# chat threads hang from requests and check them through this repository.
requests = Repository(ServiceRequest, owner=ServiceRequest.client_id, not_found=RequestNotFound)


def get(
    session: Session,
    *,
    request_id: uuid.UUID,
    client_id: uuid.UUID | None = None,
    lock: bool = False,
) -> ServiceRequest | None:
    stmt = select(ServiceRequest).where(ServiceRequest.id == request_id)
    if client_id is not None:
        stmt = stmt.where(ServiceRequest.client_id == client_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


@dataclass(frozen=True)
class RequestFilters:
    status: str | None = None
    priority: str | None = None
    assignee_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    q: str | None = None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(f: RequestFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.status is not None:
        conditions.append(ServiceRequest.status == f.status)
    if f.priority is not None:
        conditions.append(ServiceRequest.priority == f.priority)
    if f.assignee_id is not None:
        conditions.append(ServiceRequest.assignee_id == f.assignee_id)
    if f.client_id is not None:
        conditions.append(ServiceRequest.client_id == f.client_id)
    if f.q:
        pattern = _like(f.q)
        conditions.append(
            or_(
                ServiceRequest.title.ilike(pattern, escape="\\"),
                ServiceRequest.description.ilike(pattern, escape="\\"),
            )
        )
    return conditions


def list_requests(
    session: Session,
    *,
    filters: RequestFilters,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> tuple[list[ServiceRequest], int]:
    """Newest first (or oldest); ``filters.client_id`` doubles as the portal's ownership
    filter."""
    conditions = _conditions(filters)
    total = session.scalar(select(func.count()).select_from(ServiceRequest).where(*conditions))
    rows = session.scalars(
        select(ServiceRequest)
        .where(*conditions)
        .order_by(
            *(
                (ServiceRequest.created_at, ServiceRequest.id)
                if oldest_first
                else (ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
            )
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total or 0


def add(session: Session, request: ServiceRequest) -> None:
    session.add(request)

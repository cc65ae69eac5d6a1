"""Service requests: the kit's repository (the client owns a request) and the list
statement with its filters.

No tenant filter is written here: the ORM guard adds it to every statement and RLS
enforces it. ``owner`` is the portal's ownership rule (a client sees only their own
requests), which is a different thing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, or_, select

from tenantry.kit.errors import UnknownServiceRequest
from tenantry.kit.repository import Repository, built_once, where_given
from tenantry.service_requests.models import ServiceRequest

# A request's client is its owner: a portal read passes ``owner=client.user_id``, and
# another client's request is as absent as one that never existed. Attachments and
# chat threads hang from requests and check them through this repository.
requests = Repository(
    ServiceRequest,
    owner=ServiceRequest.client_id,
    not_found="No such service request.",
    unknown=UnknownServiceRequest,
)


OPEN_STATUSES = frozenset({"submitted", "triaged", "assigned", "in_progress"})


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


@built_once
def by_creation(
    filters: RequestFilters, *, owner: uuid.UUID | None = None, oldest_first: bool = False
) -> Select[ServiceRequest]:
    """Newest first (or oldest), filtered; ``owner`` limits it to one client's."""
    order = (
        (ServiceRequest.created_at, ServiceRequest.id)
        if oldest_first
        else (ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    )
    stmt = requests.select(owner=owner).order_by(*order)
    stmt = where_given(
        stmt,
        (ServiceRequest.status, filters.status),
        (ServiceRequest.priority, filters.priority),
        (ServiceRequest.assignee_id, filters.assignee_id),
        (ServiceRequest.client_id, filters.client_id),
    )
    if filters.q:
        pattern = _like(filters.q)
        stmt = stmt.where(
            or_(
                ServiceRequest.title.ilike(pattern, escape="\\"),
                ServiceRequest.description.ilike(pattern, escape="\\"),
            )
        )
    return stmt


def oldest_open(limit: int) -> Select[uuid.UUID, uuid.UUID]:
    """The ids and clients of the ``limit`` oldest open requests (the demo data hangs
    conversations and files from them)."""
    return (
        select(ServiceRequest.id, ServiceRequest.client_id)
        .where(ServiceRequest.status.in_(OPEN_STATUSES))
        .order_by(ServiceRequest.created_at, ServiceRequest.id)
        .limit(limit)
    )

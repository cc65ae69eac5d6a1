"""Queries on chat messages. Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.chat.models import ChatMessage
from tenantry.service_requests.models import ServiceRequest


def request_client(session: Session, *, service_request_id: uuid.UUID) -> uuid.UUID | None:
    """The client of a service request of this tenant, or None when there is no such request."""
    return session.scalar(
        select(ServiceRequest.client_id).where(ServiceRequest.id == service_request_id)
    )


def page_newest_last(
    session: Session, *, service_request_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[list[ChatMessage], int]:
    """One thread (a request's, or the team chat when ``service_request_id`` is None).

    ``offset`` counts back from the newest message, so the first page is the latest
    conversation; the page itself is in chronological order (newest last).
    """
    if service_request_id is None:
        query = select(ChatMessage).where(ChatMessage.service_request_id.is_(None))
    else:
        query = select(ChatMessage).where(ChatMessage.service_request_id == service_request_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest_first = session.scalars(
        query.order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(reversed(list(newest_first))), total


def add(session: Session, message: ChatMessage) -> ChatMessage:
    session.add(message)
    session.flush()
    return message

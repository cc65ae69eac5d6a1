"""Chat rules: the team thread, per-request threads, and a client's own requests only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tenantry.chat.models import ChatMessage
from tenantry.chat.repository import messages, newest_first
from tenantry.kit.pagination import Page, PageParams
from tenantry.service_requests.repository import requests


def _require_thread(
    session: Session, *, service_request_id: uuid.UUID | None, owner: uuid.UUID | None
) -> None:
    """A request thread needs the request in this tenant (and client ``owner``'s) — else 404."""
    if service_request_id is not None:
        requests.get_or_404(session, service_request_id, owner=owner)


def list_messages(
    session: Session,
    *,
    service_request_id: uuid.UUID | None,
    page: PageParams,
    owner: uuid.UUID | None = None,
) -> Page[ChatMessage]:
    """``offset`` counts back from the newest message, so the first page is the latest
    conversation; the page itself is in chronological order (newest last)."""
    _require_thread(session, service_request_id=service_request_id, owner=owner)
    found = messages.page(session, newest_first(service_request_id=service_request_id), page)
    return Page.of(found.items[::-1], found.total, page)


def post_message(
    session: Session,
    *,
    sender_id: uuid.UUID,
    body: str,
    service_request_id: uuid.UUID | None,
    owner: uuid.UUID | None = None,
) -> ChatMessage:
    """The sender is the caller (from the tenant context), never from the body."""
    _require_thread(session, service_request_id=service_request_id, owner=owner)
    message = ChatMessage(
        service_request_id=service_request_id,
        sender_id=sender_id,
        body=body,
        # Set here rather than now(): now() is the transaction's start, so messages of
        # one transaction would tie.
        created_at=datetime.now(UTC),
    )
    return messages.add(session, message)

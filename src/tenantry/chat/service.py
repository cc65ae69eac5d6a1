"""Chat rules: the team thread, per-request threads, and a client's own requests only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.chat import repository
from tenantry.chat.models import ChatMessage
from tenantry.errors import NotFound
from tenantry.isolation.context import require_context
from tenantry.kit.pagination import PageParams


def _require_thread(
    session: Session, *, service_request_id: uuid.UUID | None, client_id: uuid.UUID | None
) -> None:
    """A request thread needs the request in this tenant (and the client's own) — else 404."""
    if service_request_id is None:
        return
    owner = repository.request_client(session, service_request_id=service_request_id)
    if owner is None or (client_id is not None and owner != client_id):
        raise NotFound("No such service request.")


def list_messages(
    *,
    session: Session,
    service_request_id: uuid.UUID | None,
    page: PageParams,
    client_id: uuid.UUID | None = None,
) -> tuple[list[ChatMessage], int]:
    _require_thread(session, service_request_id=service_request_id, client_id=client_id)
    return repository.page_newest_last(
        session, service_request_id=service_request_id, limit=page.limit, offset=page.offset
    )


def post_message(
    *,
    session: Session,
    body: str,
    service_request_id: uuid.UUID | None,
    client_id: uuid.UUID | None = None,
) -> ChatMessage:
    """Post as the signed-in member. The sender always comes from the context."""
    _require_thread(session, service_request_id=service_request_id, client_id=client_id)
    sender = require_context().user_id
    assert sender is not None
    try:
        return repository.add(
            session,
            ChatMessage(
                service_request_id=service_request_id,
                sender_id=sender,
                body=body,
                # Set here rather than now(): now() is the transaction's start, so
                # messages of one transaction would tie.
                created_at=datetime.now(UTC),
            ),
        )
    except IntegrityError as exc:  # the request vanished meanwhile
        raise NotFound("No such service request.") from exc

"""Chat messages: the kit's repository and the thread order.

Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid

from sqlalchemy import Select

from tenantry.chat.models import ChatMessage
from tenantry.kit.repository import Repository, built_once
from tenantry.service_requests.repository import requests

# The request vanishing between the check and the insert is the request's 404.
messages = Repository(
    ChatMessage, constraints={"fk_chat_messages_service_request_id": requests.not_found}
)


@built_once
def newest_first(*, service_request_id: uuid.UUID | None) -> Select[ChatMessage]:
    """One thread (a request's, or the team chat when ``service_request_id`` is None)."""
    stmt = messages.select().order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
    if service_request_id is None:
        return stmt.where(ChatMessage.service_request_id.is_(None))
    return stmt.where(ChatMessage.service_request_id == service_request_id)

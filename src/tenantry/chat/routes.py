"""Chat: the team thread and per-request threads (admin), a client's own threads (portal)."""

from __future__ import annotations

import uuid

from fastapi import status

from tenantry.auth.dependencies import TenantSession
from tenantry.chat import service
from tenantry.chat.schemas import ChatMessageIn, ChatMessageOut
from tenantry.kit.actor import Actor, PortalClient
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import ChatRead, ChatWrite, RequestChatRead, RequestChatWrite
from tenantry.routing import NOT_FOUND, tenant_router

admin = tenant_router(prefix="/api/admin", tags=["chat"])
portal = tenant_router(prefix="/api/portal", tags=["chat"])
routers = [admin, portal]


@admin.get("/chat")
def list_team_chat(ctx: ChatRead, session: TenantSession, page: Pagination) -> Page[ChatMessageOut]:
    """The team chat of this tenant (messages about no particular request).

    Pagination counts back from the newest message (`offset=0` is the latest
    page); each page is in chronological order, newest last.
    """
    found = service.list_messages(session, service_request_id=None, page=page)
    return found.map(ChatMessageOut.model_validate)


@admin.post("/chat", status_code=status.HTTP_201_CREATED)
def post_team_chat(
    ctx: ChatWrite, actor: Actor, session: TenantSession, body: ChatMessageIn
) -> ChatMessageOut:
    """Post to the team chat as the signed-in member."""
    message = service.post_message(
        session, sender_id=actor.user_id, body=body.body, service_request_id=None
    )
    return ChatMessageOut.model_validate(message)


@admin.get(
    "/service-requests/{service_request_id}/chat",
    responses=NOT_FOUND,
)
def list_request_chat(
    ctx: RequestChatRead, session: TenantSession, page: Pagination, service_request_id: uuid.UUID
) -> Page[ChatMessageOut]:
    """The conversation about one service request (staff and its client).

    Pagination counts back from the newest message (`offset=0` is the latest
    page); each page is in chronological order, newest last.
    """
    found = service.list_messages(session, service_request_id=service_request_id, page=page)
    return found.map(ChatMessageOut.model_validate)


@admin.post(
    "/service-requests/{service_request_id}/chat",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
def post_request_chat(
    ctx: RequestChatWrite,
    actor: Actor,
    session: TenantSession,
    body: ChatMessageIn,
    service_request_id: uuid.UUID,
) -> ChatMessageOut:
    """Write to a service request's conversation; its client sees it in the portal."""
    message = service.post_message(
        session, sender_id=actor.user_id, body=body.body, service_request_id=service_request_id
    )
    return ChatMessageOut.model_validate(message)


@portal.get(
    "/service-requests/{service_request_id}/chat",
    responses=NOT_FOUND,
)
def portal_list_request_chat(
    client: PortalClient, session: TenantSession, page: Pagination, service_request_id: uuid.UUID
) -> Page[ChatMessageOut]:
    """The conversation about one of the client's own service requests.

    Pagination counts back from the newest message (`offset=0` is the latest
    page); each page is in chronological order, newest last.
    """
    found = service.list_messages(
        session, service_request_id=service_request_id, page=page, owner=client.user_id
    )
    return found.map(ChatMessageOut.model_validate)


@portal.post(
    "/service-requests/{service_request_id}/chat",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
def portal_post_request_chat(
    client: PortalClient, session: TenantSession, body: ChatMessageIn, service_request_id: uuid.UUID
) -> ChatMessageOut:
    """A client writes about one of their own service requests."""
    message = service.post_message(
        session,
        sender_id=client.user_id,
        body=body.body,
        service_request_id=service_request_id,
        owner=client.user_id,
    )
    return ChatMessageOut.model_validate(message)

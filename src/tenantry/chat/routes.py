"""Chat: the team thread and per-request threads (admin), a client's own threads (portal)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, status

from tenantry.auth.dependencies import ClientMember, TenantSession
from tenantry.chat import service
from tenantry.chat.models import ChatMessage
from tenantry.chat.schemas import ChatMessageIn, ChatMessageOut
from tenantry.isolation.context import TenantContext
from tenantry.kit.pagination import Page, PageParams, Pagination
from tenantry.permissions.dependencies import RequirePermission
from tenantry.routing import tenant_router

ChatRead = Annotated[TenantContext, Depends(RequirePermission("chat.read"))]
ChatWrite = Annotated[TenantContext, Depends(RequirePermission("chat.write"))]
# A request's conversation shows the request: its read permission is needed too.
RequestChatRead = Annotated[TenantContext, Depends(RequirePermission("chat.read", "requests.read"))]
RequestChatWrite = Annotated[
    TenantContext, Depends(RequirePermission("chat.write", "requests.read"))
]

admin = tenant_router(prefix="/api/admin", tags=["chat"])
portal = tenant_router(prefix="/api/portal", tags=["chat"])
routers = [admin, portal]

DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Your role may not do this (`role_required`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such service request"}}


def _page(rows: list[ChatMessage], total: int, page: PageParams) -> Page[ChatMessageOut]:
    return Page(
        items=[ChatMessageOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@admin.get(
    "/chat",
    response_model=Page[ChatMessageOut],
    responses=DENIED,
)
def list_team_chat(ctx: ChatRead, session: TenantSession, page: Pagination) -> Page[ChatMessageOut]:
    """The team chat of this tenant (messages about no particular request).

    Pagination counts back from the newest message (`offset=0` is the latest
    page); each page is in chronological order, newest last.
    """
    rows, total = service.list_messages(session=session, service_request_id=None, page=page)
    return _page(rows, total, page)


@admin.post(
    "/chat",
    response_model=ChatMessageOut,
    status_code=status.HTTP_201_CREATED,
    responses=DENIED,
)
def post_team_chat(ctx: ChatWrite, session: TenantSession, body: ChatMessageIn) -> ChatMessageOut:
    """Post to the team chat as the signed-in member."""
    message = service.post_message(session=session, body=body.body, service_request_id=None)
    return ChatMessageOut.model_validate(message)


@admin.get(
    "/service-requests/{service_request_id}/chat",
    response_model=Page[ChatMessageOut],
    responses={**DENIED, **NOT_FOUND},
)
def list_request_chat(
    ctx: RequestChatRead, session: TenantSession, page: Pagination, service_request_id: uuid.UUID
) -> Page[ChatMessageOut]:
    """The conversation about one service request (staff and its client).

    Pagination counts back from the newest message (`offset=0` is the latest
    page); each page is in chronological order, newest last.
    """
    rows, total = service.list_messages(
        session=session, service_request_id=service_request_id, page=page
    )
    return _page(rows, total, page)


@admin.post(
    "/service-requests/{service_request_id}/chat",
    response_model=ChatMessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={**DENIED, **NOT_FOUND},
)
def post_request_chat(
    ctx: RequestChatWrite,
    session: TenantSession,
    body: ChatMessageIn,
    service_request_id: uuid.UUID,
) -> ChatMessageOut:
    """Write to a service request's conversation; its client sees it in the portal."""
    message = service.post_message(
        session=session, body=body.body, service_request_id=service_request_id
    )
    return ChatMessageOut.model_validate(message)


@portal.get(
    "/service-requests/{service_request_id}/chat",
    response_model=Page[ChatMessageOut],
    responses={**DENIED, **NOT_FOUND},
)
def portal_list_request_chat(
    ctx: ClientMember, session: TenantSession, page: Pagination, service_request_id: uuid.UUID
) -> Page[ChatMessageOut]:
    """The conversation about one of the client's own service requests.

    Pagination counts back from the newest message (`offset=0` is the latest
    page); each page is in chronological order, newest last.
    """
    rows, total = service.list_messages(
        session=session, service_request_id=service_request_id, page=page, client_id=ctx.user_id
    )
    return _page(rows, total, page)


@portal.post(
    "/service-requests/{service_request_id}/chat",
    response_model=ChatMessageOut,
    status_code=status.HTTP_201_CREATED,
    responses={**DENIED, **NOT_FOUND},
)
def portal_post_request_chat(
    ctx: ClientMember, session: TenantSession, body: ChatMessageIn, service_request_id: uuid.UUID
) -> ChatMessageOut:
    """A client writes about one of their own service requests."""
    message = service.post_message(
        session=session,
        body=body.body,
        service_request_id=service_request_id,
        client_id=ctx.user_id,
    )
    return ChatMessageOut.model_validate(message)

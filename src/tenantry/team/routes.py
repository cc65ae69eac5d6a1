"""Team members: list, invite, change a role, remove."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response, status

from tenantry.auth.dependencies import TenantSession
from tenantry.isolation.context import TenantContext
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.dependencies import RequirePermission
from tenantry.routing import tenant_router
from tenantry.team import service
from tenantry.team.schemas import (
    InviteIn,
    InviteOut,
    MemberStatus,
    Role,
    RoleChangeIn,
    TeamMemberOut,
)

TeamRead = Annotated[TenantContext, Depends(RequirePermission("team.read"))]
TeamManage = Annotated[TenantContext, Depends(RequirePermission("team.manage"))]

router = tenant_router(prefix="/api/admin/team-members", tags=["team"])

DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Your role may not do this (`role_required`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such active member"}}
LAST_OWNER: dict[int | str, dict[str, Any]] = {
    409: {"description": "The tenant would be left without an owner (`last_owner`)"}
}


@router.get("", response_model=Page[TeamMemberOut], responses=DENIED)
def list_members(
    ctx: TeamRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[MemberStatus | None, Query(description="Active or removed only.")] = None,
    role: Annotated[Role | None, Query(description="One role only.")] = None,
) -> Page[TeamMemberOut]:
    """Members of this tenant (every role, active and removed) by email."""
    items, total = service.list_members(session=session, status=status, role=role, page=page)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "",
    response_model=InviteOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **DENIED,
        409: {"description": "Already an active member (`already_member`)"},
    },
)
def invite_member(ctx: TeamManage, session: TenantSession, body: InviteIn) -> InviteOut:
    """Invite someone by email. A new account is created with a temporary password,
    returned in this response only; an existing account just gains the membership.
    Only an owner may invite an owner."""
    invited = service.invite(session=session, ctx=ctx, data=body)
    return InviteOut(member=invited.member, temporary_password=invited.temporary_password)


@router.patch(
    "/{user_id}",
    response_model=TeamMemberOut,
    responses={**DENIED, **NOT_FOUND, **LAST_OWNER},
)
def change_role(
    ctx: TeamManage, session: TenantSession, user_id: uuid.UUID, body: RoleChangeIn
) -> TeamMemberOut:
    """Change a member's role; it applies from their next request. Only an owner may
    grant or take away the owner role, and the last owner cannot be demoted."""
    return service.change_role(session=session, ctx=ctx, user_id=user_id, role=body.role)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**DENIED, **NOT_FOUND, **LAST_OWNER},
)
def remove_member(ctx: TeamManage, session: TenantSession, user_id: uuid.UUID) -> Response:
    """Remove a member (status `removed`); their next request here is refused. The
    last owner cannot be removed."""
    service.remove(session=session, ctx=ctx, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

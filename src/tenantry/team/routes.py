"""Team members (list, change a role, remove) and invitations (invite, list, revoke,
resend). Joining always takes the invited person's consent: see ``team.invitations``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from tenantry.auth.dependencies import TenantSession
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import TeamManage, TeamRead
from tenantry.routing import NO_CONTENT, Responses, tenant_router
from tenantry.team import invitations, service
from tenantry.team.invitee_routes import router as invitee_router
from tenantry.team.schemas import (
    InvitationOut,
    InvitationStatus,
    InviteIn,
    MemberStatus,
    Role,
    RoleChangeIn,
    TeamMemberOut,
)

router = tenant_router(prefix="/api/admin/team-members", tags=["team"])
invitations_router = tenant_router(prefix="/api/admin/invitations", tags=["team"])
routers = [router, invitations_router, invitee_router]

NOT_FOUND: Responses = {404: {"description": "No such active member"}}
LAST_OWNER: Responses = {
    409: {"description": "The tenant would be left without an owner (`last_owner`)"}
}


@router.get("")
def list_members(
    ctx: TeamRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[MemberStatus | None, Query(description="Active or removed only.")] = None,
    role: Annotated[Role | None, Query(description="One role only.")] = None,
) -> Page[TeamMemberOut]:
    """Members of this tenant (every role, active and removed) by email."""
    return service.list_members(session, status=status, role=role, page=page)


@router.patch(
    "/{user_id}",
    responses={**NOT_FOUND, **LAST_OWNER},
)
def change_role(
    ctx: TeamManage, session: TenantSession, user_id: uuid.UUID, body: RoleChangeIn
) -> TeamMemberOut:
    """Change a member's role; it applies from their next request. Only an owner may
    grant or take away the owner role, and the last owner cannot be demoted."""
    return service.change_role(session, ctx=ctx, user_id=user_id, role=body.role)


@router.delete("/{user_id}", **NO_CONTENT, responses={**NOT_FOUND, **LAST_OWNER})
def remove_member(ctx: TeamManage, session: TenantSession, user_id: uuid.UUID) -> None:
    """Remove a member (status `removed`); their next request here is refused. The
    last owner cannot be removed."""
    service.remove(session, ctx=ctx, user_id=user_id)


INVITATION_NOT_FOUND: Responses = {404: {"description": "No such invitation in this tenant"}}
CLOSED: Responses = {409: {"description": "Already accepted or revoked (`record_closed`)"}}


@invitations_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"description": "An active member of this tenant uses the address (`already_member`)"},
    },
)
def invite(ctx: TeamManage, session: TenantSession, body: InviteIn) -> InvitationOut:
    """Invite an e-mail address to join with a role. One message goes to the address
    with a link (single-use, valid 7 days); the person joins only by opening it — signed
    in with that address, or choosing a password if the address has no account yet. The
    answer is the same whether the address has an account anywhere or not, and shows the
    name you typed. Inviting an address again replaces its open invitation. Only an owner
    may invite an owner."""
    return invitations.invite(session, ctx=ctx, data=body)


@invitations_router.get("")
def list_invitations(
    ctx: TeamRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[InvitationStatus | None, Query(description="One status only.")] = None,
) -> Page[InvitationOut]:
    """This tenant's invitations, newest first."""
    return invitations.list_invitations(session, status=status, page=page)


@invitations_router.delete(
    "/{invitation_id}", **NO_CONTENT, responses={**INVITATION_NOT_FOUND, **CLOSED}
)
def revoke_invitation(ctx: TeamManage, session: TenantSession, invitation_id: uuid.UUID) -> None:
    """Revoke an open invitation: its link stops working at once."""
    invitations.revoke(session, ctx=ctx, invitation_id=invitation_id)


@invitations_router.post(
    "/{invitation_id}/resend",
    status_code=status.HTTP_201_CREATED,
    responses={**INVITATION_NOT_FOUND, **CLOSED},
)
def resend_invitation(
    ctx: TeamManage, session: TenantSession, invitation_id: uuid.UUID
) -> InvitationOut:
    """Send a fresh invitation (new link, new expiry) for an open or expired one; the
    old link stops working."""
    return invitations.resend(session, ctx=ctx, invitation_id=invitation_id)

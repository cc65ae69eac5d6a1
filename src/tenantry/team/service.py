"""Team rules: change a role, remove. Flush only; the request commits. (Joining is by
invitation only: ``team.invitations``.)

A change takes effect on the member's very next request: the tenant dependency
re-reads the membership (role and status) every time. No session-version bump, so
a member removed here stays signed in to their other tenants.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tenantry.auth.models import Membership, User
from tenantry.errors import Conflict, LastOwner, NotFound, RoleRequired
from tenantry.isolation.context import TenantContext
from tenantry.kit.pagination import Page, PageParams
from tenantry.kit.repository import page as kit_page
from tenantry.permissions.guards import refuse_own_role_change
from tenantry.team import repository
from tenantry.team.schemas import TeamMemberOut


class AlreadyMember(Conflict):
    code = "already_member"
    message = "This person is already a member of the team."


def list_members(
    session: Session, *, status: str | None, role: str | None, page: PageParams
) -> Page[TeamMemberOut]:
    stmt = repository.members(status=status, role=role)
    return kit_page(session, stmt, page).map(TeamMemberOut.model_validate)


def require_owner_for(ctx: TenantContext, *roles: str) -> None:
    """Only an owner may make, change or remove an owner."""
    if "owner" in roles and ctx.role != "owner":
        raise RoleRequired("Only an owner may grant, change or remove the owner role.")


def _active_member(session: Session, user_id: uuid.UUID) -> tuple[Membership, User]:
    found = repository.get_member(session, user_id=user_id)
    if found is None or found[0].status != "active":
        raise NotFound("No such member.")
    return found


def _keep_an_owner(session: Session, leaving: uuid.UUID) -> None:
    owners = repository.lock_active_owners(session)
    if owners == [leaving] or not [o for o in owners if o != leaving]:
        raise LastOwner()


def change_role(
    session: Session, *, ctx: TenantContext, user_id: uuid.UUID, role: str
) -> TeamMemberOut:
    refuse_own_role_change(ctx, user_id)
    membership, _ = _active_member(session, user_id)
    require_owner_for(ctx, membership.role, role)
    if membership.role == "owner" and role != "owner":
        _keep_an_owner(session, user_id)
    membership.role = role
    session.flush()
    return TeamMemberOut.model_validate(repository.entry(session, user_id=user_id))


def remove(session: Session, *, ctx: TenantContext, user_id: uuid.UUID) -> None:
    """Mark the membership removed; the row stays so records that name the member
    remain valid."""
    membership, _ = _active_member(session, user_id)
    require_owner_for(ctx, membership.role)
    if membership.role == "owner":
        _keep_an_owner(session, user_id)
    membership.status = "removed"
    session.flush()

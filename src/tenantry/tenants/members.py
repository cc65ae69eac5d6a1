"""Memberships from the command line and the operator API (system scope, audited).

Role changes and removals made here follow the team routes' rules (a tenant keeps at
least one owner; removal keeps the row, status ``removed``, so records that name the
member stay valid). Access is re-read on every request (``auth.dependencies``), so a
change is in force from the member's very next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from tenantry.auth.models import ROLES, Membership, User
from tenantry.db.engine import Database
from tenantry.errors import InvalidInput, LastOwner, NotFound
from tenantry.tenants import audit_log
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.lifecycle import find_tenant

# Lower is more access; a move to a higher number reduces access.
_RANK = {"owner": 0, "admin": 1, "staff": 2, "client": 3}


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "No active member with that account in this tenant."


class UnknownRole(InvalidInput):
    code = "unknown_role"
    message = f"The role must be one of {', '.join(ROLES)}."


@dataclass(frozen=True)
class MemberChange:
    tenant_id: uuid.UUID
    slug: str
    user_id: uuid.UUID
    email: str
    before: str
    after: str  # a role, or "removed"
    reduces_access: bool


def change_member(
    db: Database,
    *,
    slug: str,
    actor: Actor,
    reason: str,
    email: str | None = None,
    user_id: uuid.UUID | None = None,
    role: str | None = None,
    remove: bool = False,
) -> MemberChange:
    """Set a member's role, or remove the member; audited as ``member.role_changed``
    or ``member.removed``."""
    reason = audit_log.require_reason(reason)
    if not remove and role not in ROLES:
        raise UnknownRole()
    with db.system_session(reason=f"change a member of {slug}") as session:
        tenant = find_tenant(session, slug)
        query = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant.id, Membership.status == "active")
        )
        if user_id is not None:
            query = query.where(Membership.user_id == user_id)
        else:
            query = query.where(func.lower(User.email) == (email or "").strip().lower())
        found = session.execute(query.with_for_update(of=Membership)).first()
        if found is None:
            raise MemberNotFound()
        membership, user = found
        before = membership.role
        after = "removed" if remove else str(role)
        if before == "owner" and after != "owner":
            owners = session.scalars(
                select(Membership.user_id)
                .where(Membership.tenant_id == tenant.id, Membership.role == "owner",
                       Membership.status == "active")
                .with_for_update()
            ).all()  # fmt: skip
            if not [o for o in owners if o != membership.user_id]:
                raise LastOwner()
        if remove:
            membership.status = "removed"
        else:
            membership.role = after
        reduces = remove or _RANK[after] > _RANK[before]
        audit_log.record(
            session,
            actor=actor,
            action="member.removed" if remove else "member.role_changed",
            reason=reason,
            tenant_id=tenant.id,
            slug=tenant.slug,
            details={"user_id": str(user.id), "email": user.email, "from": before, "to": after},
        )
        return MemberChange(tenant.id, tenant.slug, user.id, user.email, before, after, reduces)

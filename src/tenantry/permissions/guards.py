"""Rules about oneself: nobody changes their own role, nobody approves their own request.

Kept here, next to the matrix, so every area refuses the same way (403 with a code of
its own) and the checks read as one line where they apply.
"""

from __future__ import annotations

import uuid

from tenantry.db.engine import Database
from tenantry.errors import Forbidden
from tenantry.isolation.context import TenantContext
from tenantry.permissions.dependencies import missing_permissions

SELF_APPROVAL = "expenses.approve_own"


class OwnRoleChange(Forbidden):
    code = "own_role_change"
    message = "Nobody may change their own role or their own role's permissions."


class SelfApproval(Forbidden):
    code = "self_approval"
    message = (
        "Someone else must decide on your own expense "
        "(or your role needs the permission expenses.approve_own)."
    )


def refuse_own_role_change(ctx: TenantContext, user_id: uuid.UUID) -> None:
    """PATCH of one's own membership: refused, whatever one's permissions (a member
    with ``team.manage`` could otherwise make themselves admin)."""
    if ctx.user_id is not None and ctx.user_id == user_id:
        raise OwnRoleChange()


def refuse_own_role_permissions(ctx: TenantContext, role: str) -> None:
    """Editing the permission list of the role one holds (``permissions.manage`` would
    otherwise grant oneself anything, ``expenses.approve_own`` included)."""
    if ctx.role == role:
        raise OwnRoleChange()


def refuse_self_approval(
    db: Database, ctx: TenantContext, *, requested_by: uuid.UUID | None
) -> None:
    """The requester may decide only with ``expenses.approve_own`` (owners have it)."""
    if requested_by is None or requested_by != ctx.user_id:
        return
    if missing_permissions(db, ctx, (SELF_APPROVAL,)):
        raise SelfApproval()

"""The role → permission matrix: read it, and set the list of an editable role."""

from __future__ import annotations

from tenantry.auth.dependencies import CurrentTenant, DatabaseDep, TenantSession
from tenantry.permissions import service
from tenantry.permissions.access import PermissionsManage, TeamRead
from tenantry.permissions.dependencies import tenant_matrix
from tenantry.permissions.schemas import MatrixOut, MyPermissionsOut, Role, RolePermissionsIn
from tenantry.routing import tenant_router

router = tenant_router(prefix="/api/admin/permissions", tags=["permissions"])
# What the caller may do, for pages that show only what works (any member, own role only).
mine = tenant_router(prefix="/api/tenant/permissions", tags=["tenant"])


@router.get("")
def get_matrix(ctx: TeamRead, session: TenantSession) -> MatrixOut:
    """The permission catalogue and what each role holds in this tenant."""
    return service.matrix(session)


@router.put(
    "/{role}",
    responses={
        409: {
            "description": "The owner and client roles are fixed (`role_not_editable`); "
            "another request changed the role at the same time (`conflict`)"
        },
        422: {"description": "Unknown role or permission, or an empty list"},
    },
)
def set_role_permissions(
    ctx: PermissionsManage, session: TenantSession, role: Role, body: RolePermissionsIn
) -> MatrixOut:
    """Replace the permission list of the admin or staff role; takes effect on the
    members' next request. Nobody edits the role they hold (403 `own_role_change`)."""
    return service.set_role(session, ctx=ctx, role=role, permissions=body.permissions)


@mine.get("", responses={401: {"description": "Not signed in"}})
def my_permissions(ctx: CurrentTenant, db: DatabaseDep) -> MyPermissionsOut:
    """The permissions the caller's role holds in the active tenant (a client's list is
    empty: the portal checks ownership instead). Pages use it to offer only what the
    API will accept; the API still checks every call."""
    held = tenant_matrix(db).get(ctx.role or "", frozenset())
    return MyPermissionsOut(role=ctx.role or "", permissions=sorted(held))


routers = [router, mine]

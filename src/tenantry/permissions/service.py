"""The role → permission matrix of a tenant. Flush only.

Only ``admin`` and ``staff`` are editable. The owner always has everything (so a
tenant cannot lock itself out), and clients stay at none: a client permission would
let one client read every other client's records through the admin routes, while
clients are meant to reach only their own through the portal.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tenantry.errors import Conflict, TenantryError
from tenantry.isolation.context import TenantContext
from tenantry.kit.cache import tenant_cache
from tenantry.kit.repository import flush
from tenantry.permissions import repository
from tenantry.permissions.catalog import DEFAULT_MATRIX, PERMISSIONS
from tenantry.permissions.dependencies import CACHE_KEY
from tenantry.permissions.guards import refuse_own_role_permissions
from tenantry.permissions.schemas import MatrixOut, PermissionOut, RolePermissionsOut

EDITABLE_ROLES = ("admin", "staff")


class RoleNotEditable(Conflict):
    code = "role_not_editable"
    message = "The owner role always has every permission and clients have none."


def matrix(session: Session) -> MatrixOut:
    custom = repository.customized(session)
    roles = []
    for role, default in DEFAULT_MATRIX.items():
        if role == "owner":
            granted: set[str] | frozenset[str] = frozenset(PERMISSIONS)
        else:
            granted = custom.get(role, default)
        roles.append(
            RolePermissionsOut(
                role=role,
                permissions=sorted(granted),
                editable=role in EDITABLE_ROLES,
                # Rows equal to the defaults (written at provisioning) are not a
                # customisation.
                customized=role in custom and role != "owner" and custom[role] != default,
            )
        )
    return MatrixOut(
        permissions=[PermissionOut(key=k, description=v) for k, v in PERMISSIONS.items()],
        roles=roles,
    )


def set_role(
    session: Session, *, ctx: TenantContext, role: str, permissions: list[str]
) -> MatrixOut:
    if role not in EDITABLE_ROLES:
        raise RoleNotEditable()
    refuse_own_role_permissions(ctx, role)
    if not permissions:  # also refused by the schema; no rows would mean "the defaults"
        raise TenantryError("A role needs at least one permission.")
    # Two requests replacing the same role at once: the second's rows collide with the
    # first's, which is the kit's 409 `conflict` ("reload and try again"), as anywhere.
    with session.begin_nested():
        repository.replace_role(session, role=role, permissions=permissions)
        flush(session)
    _invalidate(session)
    return matrix(session)


def _invalidate(session: Session) -> None:
    tenant_cache.invalidate_on_commit(session, CACHE_KEY)

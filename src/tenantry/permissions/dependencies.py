"""``RequirePermission("bookings.write")``: the member's role must hold the permission
in this tenant's matrix (cached per tenant; the owner always passes).

Routes use it through the aliases of ``permissions.access`` (``ctx: BookingsWrite``), so
the route signature documents access.

Several permissions are all required: a nested route needs its parent's read too
(``RequirePermission("chat.read", "requests.read")`` on a request's chat). Where the
permission depends on the request — the parent of an attachment fetched by id, a
``service_request_id`` in a body — the route calls ``require_permissions`` once it
knows. The permissions are published per operation as ``x-tenantry-permissions``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.auth.dependencies import database_of, require_tenant
from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.db.unit import active_unit
from tenantry.errors import RoleRequired
from tenantry.isolation.context import TenantContext
from tenantry.isolation.scopes import PERMISSIONS_ATTR, ROLES_ATTR
from tenantry.kit.cache import tenant_cache
from tenantry.permissions.catalog import DEFAULT_MATRIX, PERMISSIONS
from tenantry.permissions.models import RolePermission

CACHE_KEY = "permissions.matrix"


def load_matrix(db: Database) -> dict[str, frozenset[str]]:
    """The current tenant's matrix: its own rows per role, else the defaults.

    Inside a request it reads through the request's own session (its pinned
    transaction: no second connection); elsewhere in a unit of work of its own."""
    unit = active_unit()
    if unit is not None:
        return _matrix(unit.session)
    with db.session() as session:
        return _matrix(session)


def _matrix(session: Session) -> dict[str, frozenset[str]]:
    rows = session.execute(select(RolePermission.role, RolePermission.permission)).all()
    custom: dict[str, set[str]] = {}
    for role, permission in rows:
        custom.setdefault(role, set()).add(permission)
    matrix = {
        role: frozenset(custom.get(role, default)) for role, default in DEFAULT_MATRIX.items()
    }
    matrix["owner"] = frozenset(PERMISSIONS)
    return matrix


def tenant_matrix(db: Database) -> dict[str, frozenset[str]]:
    return tenant_cache.get_or_load(CACHE_KEY, lambda: load_matrix(db))


def missing_permissions(
    db: Database, ctx: TenantContext, permissions: tuple[str, ...]
) -> list[str]:
    """Which of ``permissions`` the caller's role lacks in the current tenant."""
    if ctx.role == "owner":
        return []
    held = tenant_matrix(db).get(ctx.role or "", frozenset())
    return [p for p in permissions if p not in held]


def require_permissions(db: Database, ctx: TenantContext, *permissions: str) -> None:
    """Refuse (403 ``role_required``) unless the caller holds every one of ``permissions``.

    Sync: call it from a sync route or service (it may read the matrix)."""
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown:  # a typo is a programming error, never a silent refusal
        raise ValueError(f"unknown permissions {unknown!r}")
    missing = missing_permissions(db, ctx, permissions)
    if missing:
        raise RoleRequired(f"Your role lacks the permission {', '.join(missing)}.")


class RequirePermission:
    def __init__(self, *permissions: str) -> None:
        if not permissions:
            raise ValueError("name at least one permission")
        unknown = [p for p in permissions if p not in PERMISSIONS]
        if unknown:
            raise ValueError(f"unknown permission {unknown[0]!r}")
        self.permissions = permissions
        self.permission = permissions[0]
        setattr(self, PERMISSIONS_ATTR, permissions)
        # Published in OpenAPI with the roles that hold them all by default.
        setattr(
            self,
            ROLES_ATTR,
            tuple(r for r, held in DEFAULT_MATRIX.items() if set(permissions) <= held),
        )

    async def __call__(
        self, request: Request, ctx: Annotated[TenantContext, Depends(require_tenant)]
    ) -> TenantContext:
        # Async: with the tenant's matrix cached (the usual case) the check does no I/O;
        # a miss reads it on the loop (through the request's unit), in the context set
        # by require_tenant.
        if ctx.role == "owner":
            return ctx
        matrix = tenant_cache.peek(CACHE_KEY)
        if matrix is None:
            # (The database from the app's state, not a sub-dependency: each dependency
            # FastAPI resolves costs more than this look-up, on every request.)
            db = database_of(request)
            await run_on_loop(require_permissions, db, ctx, *self.permissions)
            return ctx
        held = matrix.get(ctx.role or "", frozenset())
        missing = [p for p in self.permissions if p not in held]
        if missing:
            raise RoleRequired(f"Your role lacks the permission {', '.join(missing)}.")
        return ctx

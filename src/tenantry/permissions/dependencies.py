"""``RequirePermission("bookings.write")``: the member's role must hold the permission
in this tenant's matrix (cached per tenant; the owner always passes).

Use it through an alias so the route signature documents access::

    BookingsWrite = Annotated[TenantContext, Depends(RequirePermission("bookings.write"))]
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from tenantry.auth.dependencies import get_database, require_tenant
from tenantry.db.engine import Database
from tenantry.errors import RoleRequired
from tenantry.isolation.context import TenantContext
from tenantry.isolation.scopes import ROLES_ATTR
from tenantry.kit.cache import tenant_cache
from tenantry.permissions.catalog import DEFAULT_MATRIX, PERMISSIONS
from tenantry.permissions.models import RolePermission

CACHE_KEY = "permissions.matrix"


def load_matrix(db: Database) -> dict[str, frozenset[str]]:
    """The current tenant's matrix: its own rows per role, else the defaults."""
    with db.session() as session:
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


class RequirePermission:
    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        self.permission = permission
        # Published in OpenAPI with the roles that hold it by default.
        setattr(self, ROLES_ATTR, tuple(r for r, p in DEFAULT_MATRIX.items() if permission in p))

    def __call__(
        self,
        request: Request,
        ctx: Annotated[TenantContext, Depends(require_tenant)],
        db: Annotated[Database, Depends(get_database)],
    ) -> TenantContext:
        # Sync on purpose: it reads the database, so FastAPI runs it in a worker
        # thread (which sees the context set by require_tenant).
        if ctx.role == "owner":
            return ctx
        if self.permission not in tenant_matrix(db).get(ctx.role or "", frozenset()):
            raise RoleRequired(f"Your role lacks the permission {self.permission}.")
        return ctx

"""Queries on the tenant's role permissions. The guard and RLS scope them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tenantry.permissions.models import RolePermission


def customized(session: Session) -> dict[str, set[str]]:
    """The tenant's own rows, by role (a role without rows uses the defaults)."""
    found: dict[str, set[str]] = {}
    for role, permission in session.execute(select(RolePermission.role, RolePermission.permission)):
        found.setdefault(role, set()).add(permission)
    return found


def replace_role(session: Session, *, role: str, permissions: Iterable[str]) -> None:
    session.execute(delete(RolePermission).where(RolePermission.role == role))
    session.add_all(RolePermission(role=role, permission=p) for p in permissions)

"""The users directory of a tenant."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tenantry.kit.pagination import PageParams
from tenantry.users import repository
from tenantry.users.schemas import TenantUserOut


def list_users(
    *, session: Session, search: str | None, role: str | None, page: PageParams
) -> tuple[list[TenantUserOut], int]:
    rows, total = repository.page(
        session,
        search=search.strip() if search else None,
        role=role,
        limit=page.limit,
        offset=page.offset,
    )
    items = [
        TenantUserOut(
            id=user.id,
            email=user.email,
            name=user.name,
            role=membership.role,
            member_since=membership.created_at,
        )
        for user, membership in rows
    ]
    return items, total

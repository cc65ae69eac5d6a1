"""The users directory of a tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from tenantry.kit.pagination import PageParams
from tenantry.users import repository
from tenantry.users.schemas import TenantUserOut


def list_users(
    *,
    session: Session,
    search: str | None,
    role: str | None,
    page: PageParams,
    ids: Sequence[uuid.UUID] = (),
) -> tuple[list[TenantUserOut], int]:
    rows, total = repository.page(
        session,
        search=search.strip() if search else None,
        role=role,
        limit=page.limit,
        offset=page.offset,
        ids=ids,
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

"""Users of this tenant: a paginated, searchable directory of active members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from tenantry.auth.dependencies import TenantSession
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import TeamRead
from tenantry.routing import tenant_router
from tenantry.users import service
from tenantry.users.schemas import Role, TenantUserOut

router = tenant_router(prefix="/api/admin/users", tags=["users"])


@router.get("")
def list_users(
    ctx: TeamRead,
    session: TenantSession,
    page: Pagination,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Part of the email or name (case-insensitive)."),
    ] = None,
    role: Annotated[Role | None, Query(description="One role only.")] = None,
    id_: Annotated[
        list[uuid.UUID] | None,
        Query(
            alias="id",
            max_length=200,
            description="Only these members (repeat the parameter; names for a page of rows).",
        ),
    ] = None,
) -> Page[TenantUserOut]:
    """Active members of this tenant (staff and clients), by email."""
    return service.list_users(session, search=q, role=role, page=page, ids=id_ or ())

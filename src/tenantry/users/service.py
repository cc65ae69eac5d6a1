"""The users directory of a tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.orm import Session

from tenantry.kit.pagination import Page, PageParams
from tenantry.kit.repository import page as kit_page
from tenantry.users import repository
from tenantry.users.schemas import TenantUserOut


def list_users(
    session: Session,
    *,
    search: str | None,
    role: str | None,
    page: PageParams,
    ids: Sequence[uuid.UUID] = (),
) -> Page[TenantUserOut]:
    stmt = repository.directory(search=search.strip() if search else None, role=role, ids=ids)
    return kit_page(session, stmt, page).map(TenantUserOut.model_validate)

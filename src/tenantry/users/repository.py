"""The users directory query.

Users are global; a user is listed only through an active membership of the current
tenant (the guard adds the tenant filter to ``Membership``, RLS backs it). The only
hand-written filters are the searched columns and the role.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership, User


def _like_pattern(text: str) -> str:
    """``%text%`` with the user's own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page(
    session: Session,
    *,
    search: str | None,
    role: str | None,
    limit: int,
    offset: int,
    ids: Sequence[uuid.UUID] = (),
) -> tuple[list[tuple[User, Membership]], int]:
    query = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.status == "active")
    )
    if search:
        pattern = _like_pattern(search)
        query = query.where(
            or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
        )
    if role is not None:
        query = query.where(Membership.role == role)
    if ids:
        query = query.where(User.id.in_(ids))
    # Counted over one column: a subquery of whole entities would name every column of
    # users, password_hash included, which the app role may not read.
    counted = query.with_only_columns(Membership.user_id).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    rows = session.execute(query.order_by(User.email, User.id).limit(limit).offset(offset))
    return [(u, m) for u, m in rows], total

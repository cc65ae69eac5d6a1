"""The users directory query.

Users are global; a user is listed only through an active membership of the current
tenant (the guard adds the tenant filter to ``Membership``, RLS backs it). The only
hand-written filters are the searched columns and the role.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, or_, select

from tenantry.auth.models import Membership, User
from tenantry.kit.repository import where_given


def _like_pattern(text: str) -> str:
    """``%text%`` with the user's own ``%``, ``_`` and ``\\`` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def directory(
    *, search: str | None, role: str | None, ids: Sequence[uuid.UUID] = ()
) -> Select[uuid.UUID, str, str, str, datetime]:
    """Active members by email, matching ``search`` in the email or name, of ``role``,
    among ``ids`` (each when given). Its columns are the directory entry's fields
    (``TenantUserOut``) and nothing else of ``users`` (``password_hash`` is not the app
    role's to read), so it pages and counts as it is."""
    query = (
        select(
            User.id,
            User.email,
            User.name,
            Membership.role,
            Membership.created_at.label("member_since"),
        )
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.status == "active")
    )
    if search:
        pattern = _like_pattern(search)
        query = query.where(
            or_(User.email.ilike(pattern, escape="\\"), User.name.ilike(pattern, escape="\\"))
        )
    if ids:
        query = query.where(User.id.in_(ids))
    return where_given(query, (Membership.role, role)).order_by(User.email, User.id)

"""Look-ups of the tenant's members that several areas check references against."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.auth.models import STAFF_ROLES, Membership

__all__ = ["STAFF_ROLES", "find_member"]


def find_member(
    session: Session, *, user_id: uuid.UUID, roles: Sequence[str], lock: bool = False
) -> Membership | None:
    """An active membership of this tenant with one of ``roles`` (the guard scopes it).

    ``lock`` takes a row lock on the membership, which serialises concurrent bookings
    of one assignee (the overlap check then sees the other's row)."""
    stmt = select(Membership).where(
        Membership.user_id == user_id,
        Membership.role.in_(roles),
        Membership.status == "active",
    )
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)

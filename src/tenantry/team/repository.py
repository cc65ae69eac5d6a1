"""Queries on memberships (tenant-owned: the guard scopes them) and users (global).

A member row is always read *through* its membership, so a user appears here only
with a membership of the current tenant; the ``users`` table itself holds no tenant.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership, User


def _members() -> Select[Membership, User]:
    return select(Membership, User).join(User, User.id == Membership.user_id)


def page(
    session: Session, *, status: str | None, role: str | None, limit: int, offset: int
) -> tuple[list[tuple[Membership, User]], int]:
    query = _members()
    if status is not None:
        query = query.where(Membership.status == status)
    if role is not None:
        query = query.where(Membership.role == role)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(User.email).limit(limit).offset(offset))
    return [(m, u) for m, u in rows], total


def get_member(session: Session, *, user_id: uuid.UUID) -> tuple[Membership, User] | None:
    row = session.execute(_members().where(Membership.user_id == user_id)).first()
    return None if row is None else (row[0], row[1])


def lock_active_owners(session: Session) -> list[uuid.UUID]:
    """The tenant's active owners, row-locked so two demotions cannot both pass the
    last-owner check."""
    return list(
        session.scalars(
            select(Membership.user_id)
            .where(Membership.role == "owner", Membership.status == "active")
            .with_for_update()
        )
    )


def find_user(session: Session, *, email: str) -> User | None:
    """An account by email (case-insensitive; the unique index is on lower(email))."""
    return session.scalar(select(User).where(func.lower(User.email) == email.lower()))


def get_membership(session: Session, *, user_id: uuid.UUID) -> Membership | None:
    return session.scalar(select(Membership).where(Membership.user_id == user_id))

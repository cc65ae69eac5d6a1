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
    # Counted over one column: a subquery of whole entities would name every column of
    # users, password_hash included, which the app role may not read.
    counted = query.with_only_columns(Membership.user_id).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
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


def active_member_with_email(session: Session, *, email: str) -> bool:
    """Whether an active member of THIS tenant uses ``email`` (nothing about anyone else:
    users are reached only through this tenant's memberships)."""
    found = session.scalar(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(func.lower(User.email) == email.lower(), Membership.status == "active")
    )
    return found is not None


def get_membership(session: Session, *, user_id: uuid.UUID) -> Membership | None:
    return session.scalar(select(Membership).where(Membership.user_id == user_id))

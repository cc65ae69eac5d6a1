"""Queries on memberships (tenant-owned: the guard scopes them) and users (global).

A member row is always read *through* its membership, so a user appears here only
with a membership of the current tenant; the ``users`` table itself holds no tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership, User
from tenantry.kit.repository import where_given


def _members() -> Select[Membership, User]:
    return select(Membership, User).join(User, User.id == Membership.user_id)


def _entries() -> Select[uuid.UUID, str, str, str, str, datetime]:
    """Members in the columns of a team entry (``TeamMemberOut``), nothing else of
    ``users`` (``password_hash`` is not the app role's to read)."""
    return select(
        User.id.label("user_id"),
        User.email,
        User.name,
        Membership.role,
        Membership.status,
        Membership.created_at.label("joined_at"),
    ).join_from(Membership, User, User.id == Membership.user_id)


def members(
    *, status: str | None, role: str | None
) -> Select[uuid.UUID, str, str, str, str, datetime]:
    """This tenant's members (active and removed) by email, optionally of one status
    and role."""
    return where_given(_entries(), (Membership.status, status), (Membership.role, role)).order_by(
        User.email
    )


def entry(session: Session, *, user_id: uuid.UUID) -> Row[uuid.UUID, str, str, str, str, datetime]:
    """One member's team entry (after a change: what the change made of it)."""
    return session.execute(_entries().where(Membership.user_id == user_id)).one()


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

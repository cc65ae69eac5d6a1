"""Queries for mail recipients. Tenant scoping comes from the guard and RLS (memberships)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership, User


def member_email(session: Session, *, user_id: uuid.UUID) -> str | None:
    """The email of an active member of THIS tenant (the membership scopes the user)."""
    return session.scalar(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.status == "active")
    )


def member_with_email(session: Session, *, email: str) -> str | None:
    """The stored address of the active member of this tenant with ``email``, if any."""
    return session.scalar(
        select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(func.lower(User.email) == email.lower(), Membership.status == "active")
    )

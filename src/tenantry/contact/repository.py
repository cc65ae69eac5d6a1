"""Queries on contact submissions. Tenant scoping comes from the ORM guard and RLS."""

from __future__ import annotations

import uuid

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.contact.models import ContactSubmission


def add(session: Session, submission: ContactSubmission) -> ContactSubmission:
    session.add(submission)
    session.flush()
    return submission


def page(session: Session, *, limit: int, offset: int) -> tuple[list[ContactSubmission], int]:
    total = session.scalar(select(func.count()).select_from(ContactSubmission)) or 0
    rows = session.scalars(
        select(ContactSubmission)
        .order_by(ContactSubmission.created_at.desc(), ContactSubmission.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def delete(session: Session, *, submission_id: uuid.UUID) -> bool:
    deleted = session.execute(
        sa_delete(ContactSubmission).where(ContactSubmission.id == submission_id)
    )
    return bool(getattr(deleted, "rowcount", 0))

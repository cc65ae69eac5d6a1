"""Queries on posts. Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.posts.models import Post


def get(session: Session, *, post_id: uuid.UUID) -> Post | None:
    return session.scalar(select(Post).where(Post.id == post_id))


def get_published(session: Session, *, slug: str) -> Post | None:
    return session.scalar(select(Post).where(Post.slug == slug, Post.status == "published"))


def slug_in_use(session: Session, *, slug: str, except_id: uuid.UUID | None = None) -> bool:
    query = select(Post.id).where(Post.slug == slug)
    if except_id is not None:
        query = query.where(Post.id != except_id)
    return session.scalar(query.limit(1)) is not None


def page(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[list[Post], int]:
    """Newest first: published posts by publication date, drafts by last change."""
    query = select(Post)
    if status is not None:
        query = query.where(Post.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (
        func.coalesce(Post.published_at, Post.updated_at).desc(),
        Post.id,
    )
    rows = session.scalars(query.order_by(*order).limit(limit).offset(offset))
    return list(rows), total


def delete(session: Session, post: Post) -> None:
    session.delete(post)

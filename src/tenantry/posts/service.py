"""Business rules for posts: drafts, publishing, unpublishing. Flush only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tenantry.kit.errors import InvalidTransition
from tenantry.kit.pagination import Page, PageParams
from tenantry.posts.errors import slug_taken
from tenantry.posts.models import Post
from tenantry.posts.repository import newest_first, posts
from tenantry.posts.schemas import PostIn, PostPatch


def _check_slug(session: Session, slug: str | None, *, post_id: uuid.UUID | None = None) -> None:
    if posts.taken(session, Post.slug, slug, except_id=post_id):
        raise slug_taken()


def list_posts(session: Session, *, status: str | None, page: PageParams) -> Page[Post]:
    return posts.page(session, newest_first(status=status), page)


def create_draft(session: Session, *, author_id: uuid.UUID, data: PostIn) -> Post:
    """The author is the caller (from the tenant context), never from the body."""
    _check_slug(session, data.slug)
    return posts.add(session, Post(author_id=author_id, status="draft", **data.model_dump()))


def update_post(session: Session, *, post_id: uuid.UUID, data: PostPatch) -> Post:
    post, changes = posts.get_or_404(session, post_id), data.changes()
    _check_slug(session, changes.get("slug"), post_id=post.id)
    return posts.update(session, post, changes)


def publish(session: Session, *, post_id: uuid.UUID) -> Post:
    post = posts.for_update(session, post_id)
    if post.status != "draft":
        raise InvalidTransition("The post is already published.")
    post.status, post.published_at = "published", datetime.now(UTC)
    posts.flush(session)
    return post


def unpublish(session: Session, *, post_id: uuid.UUID) -> Post:
    post = posts.for_update(session, post_id)
    if post.status != "published":
        raise InvalidTransition("The post is not published.")
    post.status, post.published_at = "draft", None
    posts.flush(session)
    return post


def public_post(session: Session, *, slug: str) -> Post:
    """A draft is as absent as a post that never existed."""
    found = session.scalar(posts.select().where(Post.slug == slug, Post.status == "published"))
    if found is None:
        raise posts.not_found()
    return found


def delete_post(session: Session, *, post_id: uuid.UUID) -> None:
    posts.delete(session, posts.get_or_404(session, post_id))

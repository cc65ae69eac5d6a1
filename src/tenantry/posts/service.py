"""Business rules for posts: drafts, publishing, unpublishing. Flush only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.errors import Conflict, NotFound
from tenantry.kit.pagination import PageParams
from tenantry.posts import repository
from tenantry.posts.models import Post
from tenantry.posts.schemas import PostIn, PostPatch


class SlugTaken(Conflict):
    code = "slug_taken"
    message = "Another post of this tenant already uses this slug."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "The post is not in a state that allows this."


class PostNotFound(NotFound):
    message = "No such post."


def _flush(session: Session) -> None:
    """Flush in a savepoint: the slug race (two requests, one slug) becomes 409."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise SlugTaken() from exc


def list_posts(*, session: Session, status: str | None, page: PageParams) -> tuple[list[Post], int]:
    return repository.page(session, status=status, limit=page.limit, offset=page.offset)


def get_post(*, session: Session, post_id: uuid.UUID) -> Post:
    found = repository.get(session, post_id=post_id)
    if found is None:
        raise PostNotFound()
    return found


def create_draft(*, session: Session, author_id: uuid.UUID, data: PostIn) -> Post:
    """The author is the caller (from the tenant context), never from the body."""
    if repository.slug_in_use(session, slug=data.slug):
        raise SlugTaken()
    post = Post(author_id=author_id, status="draft", **data.model_dump())
    session.add(post)
    _flush(session)
    return post


def update_post(*, session: Session, post_id: uuid.UUID, data: PostPatch) -> Post:
    post = get_post(session=session, post_id=post_id)
    changes = data.changes()
    slug = changes.get("slug")
    if slug is not None and repository.slug_in_use(session, slug=slug, except_id=post.id):
        raise SlugTaken()
    for field, value in changes.items():
        setattr(post, field, value)
    _flush(session)
    return post


def publish(*, session: Session, post_id: uuid.UUID, now: datetime | None = None) -> Post:
    post = get_post(session=session, post_id=post_id)
    if post.status != "draft":
        raise InvalidTransition("The post is already published.")
    post.status = "published"
    post.published_at = now or datetime.now(UTC)
    session.flush()
    return post


def unpublish(*, session: Session, post_id: uuid.UUID) -> Post:
    post = get_post(session=session, post_id=post_id)
    if post.status != "published":
        raise InvalidTransition("The post is not published.")
    post.status = "draft"
    post.published_at = None
    session.flush()
    return post


def delete_post(*, session: Session, post_id: uuid.UUID) -> None:
    repository.delete(session, get_post(session=session, post_id=post_id))
    session.flush()


def public_posts(*, session: Session, page: PageParams) -> tuple[list[Post], int]:
    return repository.page(session, status="published", limit=page.limit, offset=page.offset)


def public_post(*, session: Session, slug: str) -> Post:
    """A draft is as absent as a post that never existed."""
    found = repository.get_published(session, slug=slug)
    if found is None:
        raise PostNotFound()
    return found

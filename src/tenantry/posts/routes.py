"""Posts: admin drafting and publishing; the public list and page of published posts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, status

from tenantry.auth.dependencies import HostTenant, TenantSession
from tenantry.db.unit import single_read
from tenantry.kit.actor import Actor
from tenantry.kit.pagination import Page, Pagination
from tenantry.kit.schemas import SLUG_PATTERN
from tenantry.permissions.access import PostsRead, PostsWrite
from tenantry.posts import service
from tenantry.posts.repository import posts
from tenantry.posts.schemas import (
    PostIn,
    PostOut,
    PostPatch,
    PostStatus,
    PublicPostOut,
)
from tenantry.routing import (
    NO_CONTENT,
    NOT_FOUND,
    SLUG_TAKEN,
    Responses,
    public_router,
    tenant_router,
)

admin = tenant_router(prefix="/api/admin/posts", tags=["posts"])
public = public_router(prefix="/api/public/posts", tags=["posts"])
routers = [admin, public]

TRANSITION: Responses = {
    **NOT_FOUND,
    409: {"description": "Not allowed in the post's status (`invalid_transition`)"},
}


@admin.get("")
def list_posts(
    ctx: PostsRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[PostStatus | None, Query(description="Only drafts or published.")] = None,
) -> Page[PostOut]:
    """The tenant's posts, drafts included, newest first."""
    return service.list_posts(session, status=status, page=page).map(PostOut.model_validate)


@admin.post("", status_code=status.HTTP_201_CREATED, responses=SLUG_TAKEN)
def create_post(ctx: PostsWrite, actor: Actor, session: TenantSession, body: PostIn) -> PostOut:
    """Write a new draft; the caller is its author."""
    post = service.create_draft(session, author_id=actor.user_id, data=body)
    return PostOut.model_validate(post)


@admin.get("/{post_id}", responses=NOT_FOUND)
@single_read
def get_post(ctx: PostsRead, session: TenantSession, post_id: uuid.UUID) -> PostOut:
    """One post of this tenant, draft or published."""
    return PostOut.model_validate(posts.row_or_404(session, post_id))


@admin.patch("/{post_id}", responses={**NOT_FOUND, **SLUG_TAKEN})
def update_post(
    ctx: PostsWrite, session: TenantSession, post_id: uuid.UUID, body: PostPatch
) -> PostOut:
    """Change the slug, title or body (only the fields sent)."""
    return PostOut.model_validate(service.update_post(session, post_id=post_id, data=body))


@admin.post("/{post_id}/publish", responses=TRANSITION)
def publish_post(ctx: PostsWrite, session: TenantSession, post_id: uuid.UUID) -> PostOut:
    """Publish a draft now: it appears on the tenant's public site."""
    return PostOut.model_validate(service.publish(session, post_id=post_id))


@admin.post("/{post_id}/unpublish", responses=TRANSITION)
def unpublish_post(ctx: PostsWrite, session: TenantSession, post_id: uuid.UUID) -> PostOut:
    """Take a published post back to draft; it leaves the public site."""
    return PostOut.model_validate(service.unpublish(session, post_id=post_id))


@admin.delete("/{post_id}", **NO_CONTENT, responses=NOT_FOUND)
def delete_post(ctx: PostsWrite, session: TenantSession, post_id: uuid.UUID) -> None:
    """Delete a post for good."""
    service.delete_post(session, post_id=post_id)


@public.get("", responses={404: {}})
def public_posts(ctx: HostTenant, session: TenantSession, page: Pagination) -> Page[PublicPostOut]:
    """Published posts of the tenant named by the host, newest first."""
    published = service.list_posts(session, status="published", page=page)
    return published.map(PublicPostOut.model_validate)


@public.get("/{slug}", responses={404: {}})
def public_post(
    ctx: HostTenant,
    session: TenantSession,
    slug: Annotated[str, Path(max_length=200, pattern=SLUG_PATTERN)],
) -> PublicPostOut:
    """One published post of the host's tenant; drafts are not found."""
    return PublicPostOut.model_validate(service.public_post(session, slug=slug))

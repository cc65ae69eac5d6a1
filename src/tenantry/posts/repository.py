"""Posts: the kit's repository, and the orders and filters particular to posts."""

from __future__ import annotations

from sqlalchemy import Select, func

from tenantry.kit.repository import Repository, built_once
from tenantry.posts.errors import slug_taken
from tenantry.posts.models import Post

posts = Repository(
    Post, not_found="No such post.", constraints={"uq_posts_tenant_id_slug": slug_taken}
)


@built_once
def newest_first(*, status: str | None) -> Select[Post]:
    """Published posts by publication date, drafts by last change."""
    stmt = posts.select().order_by(
        func.coalesce(Post.published_at, Post.updated_at).desc(), Post.id
    )
    return stmt if status is None else stmt.where(Post.status == status)

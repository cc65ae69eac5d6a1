"""Posts, written by a member of the tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, uuid_pk

POST_STATUSES = ("draft", "published")


class Post(TenantOwned, Timestamped):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug"),
        member_fk("posts", "author_id"),
        one_of("status", POST_STATUSES),
        CheckConstraint("slug ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'", name="slug_format"),
        CheckConstraint(
            "status <> 'published' or published_at is not null", name="published_has_date"
        ),
        Index("ix_posts_tenant_status_published", "tenant_id", "status", "published_at"),
        Index("ix_posts_tenant_author", "tenant_id", "author_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    author_id: Mapped[uuid.UUID]
    slug: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

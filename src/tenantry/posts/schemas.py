"""Request and response models for posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantry.kit.schemas import SLUG_PATTERN, Input, Patch

PostStatus = Literal["draft", "published"]


Slug = Annotated[str, Field(min_length=1, max_length=200, pattern=SLUG_PATTERN)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(max_length=100_000)]


class PostIn(Input):
    """A new post; it starts as a draft (publish it with ``POST .../publish``)."""

    slug: Slug = Field(description="Unique within the tenant; lowercase letters, digits, dashes.")
    title: Title
    body: Body = ""


class PostPatch(Patch):
    """Partial update: only the fields sent change; an explicit null is refused."""

    slug: Slug | None = None
    title: Title | None = None
    body: Body | None = None


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    title: str
    body: str
    status: PostStatus
    author_id: uuid.UUID
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PublicPostOut(BaseModel):
    """A published post as anyone sees it on the tenant's site."""

    model_config = ConfigDict(from_attributes=True)

    slug: str
    title: str
    body: str
    published_at: datetime

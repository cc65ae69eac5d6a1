"""Request and response models for posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from tenantry.kit import schemas as kit
from tenantry.kit.schemas import Input, Output, PatchOf

PostStatus = Literal["draft", "published"]


Slug = Annotated[kit.Slug, Field(max_length=200)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(max_length=100_000)]


class PostIn(Input):
    """A new post; it starts as a draft (publish it with ``POST .../publish``)."""

    slug: Slug
    title: Title
    body: Body = ""


class PostPatch(PatchOf[PostIn]):
    pass


class PostOut(Output):
    id: uuid.UUID
    slug: str
    title: str
    body: str
    status: PostStatus
    author_id: uuid.UUID
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class PublicPostOut(Output):
    """A published post as anyone sees it on the tenant's site."""

    slug: str
    title: str
    body: str
    published_at: datetime

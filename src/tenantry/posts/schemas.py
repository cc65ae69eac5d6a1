"""Request and response models for posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
PostStatus = Literal["draft", "published"]


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Slug = Annotated[str, Field(min_length=1, max_length=200, pattern=SLUG_PATTERN)]
Title = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_not_blank)]
Body = Annotated[str, Field(max_length=100_000)]


class PostIn(BaseModel):
    """A new post; it starts as a draft (publish it with ``POST .../publish``)."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug = Field(description="Unique within the tenant; lowercase letters, digits, dashes.")
    title: Title
    body: Body = ""


class PostPatch(BaseModel):
    """Partial update: only the fields sent change; an explicit null is refused."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug | None = None
    title: Title | None = None
    body: Body | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> PostPatch:
        nulls = [f for f in self.model_fields_set if getattr(self, f) is None]
        if nulls:
            raise ValueError(f"fields may be omitted but not null: {', '.join(sorted(nulls))}")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


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

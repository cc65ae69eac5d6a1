"""Request and response models for the services catalogue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, model_validator

from tenantry.kit import schemas as kit
from tenantry.kit.schemas import Input, Output, PatchOf

Slug = Annotated[kit.Slug, Field(max_length=100)]
Name = Annotated[str, Field(min_length=1, max_length=200)]  # stripped: blank is empty
Description = Annotated[str, Field(max_length=5000)]
PriceCents = Annotated[int, Field(ge=0, le=100_000_000, description="Price in cents.")]
Minutes = Annotated[int, Field(gt=0, le=24 * 60, description="Duration in minutes.")]
Position = Annotated[
    int, Field(ge=0, le=100_000, description="Catalogue order, ascending (ties by name).")
]


class ServiceIn(Input):
    slug: Slug
    name: Name
    description: Description = ""
    price_cents: PriceCents
    duration_minutes: Minutes
    active: bool = True
    position: Position | None = Field(default=None, description="Default: after the last.")


class ServicePatch(PatchOf[ServiceIn]):
    pass


class PublicServiceOut(Output):
    """What anyone may see of an active service on the tenant's site."""

    id: uuid.UUID
    slug: str
    name: str
    description: str
    price_cents: int
    duration_minutes: int


class ServiceOut(PublicServiceOut):
    """A service as staff see it: what the public sees, and whether it is offered, its
    place in the catalogue and when it was made and changed."""

    active: bool
    position: int
    created_at: datetime
    updated_at: datetime


class CatalogueEntry(Output):
    id: uuid.UUID
    slug: str
    name: str
    active: bool
    position: int


class CatalogueOut(BaseModel):
    """The catalogue settings view: every service with its active flag, in order."""

    services: list[CatalogueEntry]
    active_count: int


class CatalogueFlag(Input):
    """One service's new flag and/or position; what is left out stays as it is."""

    id: uuid.UUID
    active: bool | None = None
    position: Position | None = None

    @model_validator(mode="after")
    def _something(self) -> CatalogueFlag:
        if self.active is None and self.position is None:
            raise ValueError("give active, position or both")
        return self


class CatalogueIn(Input):
    services: list[CatalogueFlag] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique_ids(self) -> CatalogueIn:
        ids = [item.id for item in self.services]
        if len(set(ids)) != len(ids):
            raise ValueError("each service may appear once")
        return self

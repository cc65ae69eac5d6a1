"""Offset pagination shared by every list endpoint.

A route takes ``page: Pagination`` and a repository answers ``repo.page(session, stmt,
page)``: one count and one page query, built from the statement the area wrote (its
filters and order), so no area writes its own count-and-page query. The route turns
the rows into its response model with ``.map(Out.model_validate)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")
U = TypeVar("U")


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page (1-200).")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Pagination = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, items: Sequence[T], total: int, params: PageParams) -> Page[T]:
        """A page of ``items`` (rows or response models) out of ``total``.

        Built without validation: it holds ORM rows until ``map`` turns them into
        response models, which FastAPI then validates against the route's model."""
        return cls.model_construct(
            items=list(items), total=total, limit=params.limit, offset=params.offset
        )

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with every item converted (e.g. ``Out.model_validate``)."""
        return Page.model_construct(
            items=[convert(item) for item in self.items],
            total=self.total,
            limit=self.limit,
            offset=self.offset,
        )

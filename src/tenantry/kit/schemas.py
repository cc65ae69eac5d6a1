"""Base classes for request bodies.

``Input``: unknown fields are refused (a stray ``tenant_id`` is a 422, never silently
ignored), text is stripped, and a NUL character is a 422 ``validation_error`` (PostgreSQL
text cannot hold one; caught here it never becomes a database error).

``Patch``: a partial update. Only the fields sent change (``changes()``); at least one
must be sent; an explicit ``null`` is refused except for the fields listed in
``nullable`` (where it clears the value). A patch without a docstring of its own says
so in the API reference (its schema's description); one with a docstring says it there.

``PatchOf[PostIn]``: the patch of an input model, ``class PostPatch(PatchOf[PostIn])``:
every field of the input, optional, so that the two cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

# A slug: lowercase letters, digits and inner dashes (the models' slug_format checks
# say the same); each area bounds its length.
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
# A record's slug in a body (a post's, a service's; its table keeps it unique per
# tenant). The area adds its length bound: ``Annotated[Slug, Field(max_length=200)]``.
Slug = Annotated[
    str,
    Field(
        min_length=1,
        pattern=SLUG_PATTERN,
        description="Unique within the tenant; lowercase letters, digits, dashes.",
    ),
]
# The title and free text of a piece of work (service requests, work orders).
Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]


class Output(BaseModel):
    """Response bodies: built from ORM rows (``Out.model_validate(row)``)."""

    model_config = ConfigDict(from_attributes=True)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


class Patch(Input):
    """Partial update: only the fields sent change; an explicit null is refused."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A class docstring is not inherited; the API reference reads it as the body's
        # description, so a patch that says nothing of its own gets the base's rule.
        if cls.__doc__ is None:
            cleared = sorted(cls.nullable)
            cls.__doc__ = (
                Patch.__doc__
                if not cleared
                else (
                    "Partial update: only the fields sent change; an explicit null is refused"
                    f" except for {', '.join(cleared)}, where it clears the value."
                )
            )

    @model_validator(mode="after")
    def _sent_and_not_null(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        nulls = sorted(
            f for f in self.model_fields_set if getattr(self, f) is None and f not in self.nullable
        )
        if nulls:
            raise ValueError(f"fields may be omitted but not null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, with their new values."""
        return self.model_dump(include=self.model_fields_set)


InputT = TypeVar("InputT", bound=Input)


class PatchOf(Patch, Generic[InputT]):
    """The patch of an input model: ``class PostPatch(PatchOf[PostIn])`` has each of
    ``PostIn``'s fields with its type as written there (``Slug``, with its bounds and
    description), optional, default ``None``. A field added to the input is patchable
    too, with the same checks; the two cannot drift apart. What stands after the ``=``
    on the input's line (a default, a ``Field(description=...)`` of it) is about
    creating a record and is not taken.

    The fields are made at run time, so mypy does not see them on the patch: read what
    was sent through ``changes()``. ``PatchOf[PostIn]`` is a subclass made once per
    input model (type checkers read it as the generic it declares).
    """

    def __class_getitem__(cls, source: Any) -> Any:
        if not (isinstance(source, type) and issubclass(source, Input)):
            raise TypeError(f"PatchOf[...] takes an Input model, not {source!r}")
        return _patch_of(source)


@cache
def _patch_of(source: type[Input]) -> type[Patch]:
    hints = get_type_hints(source, include_extras=True)
    optional: dict[str, Any] = {name: (hints[name] | None, None) for name in source.model_fields}
    return create_model(
        f"PatchOf[{source.__name__}]", __base__=PatchOf, __module__=source.__module__, **optional
    )

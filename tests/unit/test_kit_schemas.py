"""The kit's body bases say in the API reference what they do: a patch without a
docstring of its own is described by the partial-update rule it follows (with the
fields where null clears), the shared ``Slug`` carries its rule into every area, and
``PatchOf`` makes an input model's patch from its fields."""

from __future__ import annotations

from typing import Annotated, ClassVar

import pytest
from pydantic import Field, ValidationError

from tenantry.kit import schemas as kit
from tenantry.kit.schemas import Input, Patch, PatchOf


class Plain(Patch):
    title: str | None = None


class Clearing(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"due_on", "assignee_id"})

    title: str | None = None
    due_on: str | None = None
    assignee_id: str | None = None


class Documented(Patch):
    """Change the title."""

    title: str | None = None


def test_a_patch_without_a_docstring_is_described_by_the_partial_update_rule() -> None:
    assert Plain.model_json_schema()["description"] == (
        "Partial update: only the fields sent change; an explicit null is refused."
    )


def test_a_patch_with_nullable_fields_says_where_null_clears() -> None:
    assert Clearing.model_json_schema()["description"] == (
        "Partial update: only the fields sent change; an explicit null is refused except"
        " for assignee_id, due_on, where it clears the value."
    )
    assert Clearing.model_validate({"due_on": None}).changes() == {"due_on": None}
    with pytest.raises(ValidationError, match="may be omitted but not null: title"):
        Clearing.model_validate({"title": None})


def test_a_patch_with_its_own_docstring_keeps_it() -> None:
    assert Documented.model_json_schema()["description"] == "Change the title."


def test_an_areas_slug_keeps_the_shared_rule_and_adds_its_bound() -> None:
    class Body(Patch):
        slug: Annotated[kit.Slug, Field(max_length=5)] | None = None

    schema = Body.model_json_schema()["properties"]["slug"]["anyOf"][0]
    assert schema["pattern"] == kit.SLUG_PATTERN and schema["maxLength"] == 5
    assert schema["description"].startswith("Unique within the tenant")
    assert Body.model_validate({"slug": "a-b"}).slug == "a-b"
    for bad in ("", "too-long", "A-b", "-ab"):
        with pytest.raises(ValidationError):
            Body.model_validate({"slug": bad})


Short = Annotated[str, Field(min_length=1, max_length=3, description="A short name.")]


class ThingIn(Input):
    name: Short
    size: int = 1
    place: int | None = Field(default=None, description="Default: after the last.")


class ThingPatch(PatchOf[ThingIn]):
    pass


def test_a_patch_of_an_input_has_its_fields_optional_with_their_checks() -> None:
    assert list(ThingPatch.model_fields) == ["name", "size", "place"]
    assert ThingPatch.model_validate({"size": 2}).changes() == {"size": 2}
    assert ThingPatch.model_validate({"name": " ab "}).changes() == {"name": "ab"}
    for bad in ({}, {"name": None}, {"name": "abcd"}, {"name": "a\x00"}, {"tenant_id": 1}):
        with pytest.raises(ValidationError):
            ThingPatch.model_validate(bad)


def test_a_patch_of_an_input_takes_the_types_description_not_the_creation_default() -> None:
    props = ThingPatch.model_json_schema()["properties"]
    assert props["name"]["anyOf"][0]["description"] == "A short name."
    assert "description" not in props["place"] and props["place"]["default"] is None
    assert props["size"]["default"] is None
    assert ThingPatch.model_json_schema()["description"].startswith("Partial update")


def test_a_patch_of_an_input_is_made_once_and_only_of_an_input() -> None:
    assert PatchOf[ThingIn] is PatchOf[ThingIn]
    with pytest.raises(TypeError, match="takes an Input model"):
        PatchOf[int]  # type: ignore[type-var]

"""Every router an area builds is served: one left out of its routes module's
``routers`` list fails at start-up instead of silently answering 404."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantry import areas
from tenantry.areas import Area, UnservedRouter

ROUTES = """
from fastapi import APIRouter

admin = APIRouter(prefix="/api/admin/widgets")
portal = APIRouter(prefix="/api/portal/widgets")
routers = [{listed}]
"""
# A second module of the same area: its router is served only if routes lists it.
EXTRA = """
from fastapi import APIRouter

public = APIRouter(prefix="/api/public/widgets")
"""


@pytest.fixture
def widgets(tmp_path: Path) -> Iterator[Path]:
    """A throw-away area package ``widgets_area_<n>`` on sys.path."""
    sys.path.insert(0, str(tmp_path))
    names_before = set(sys.modules)
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in set(sys.modules) - names_before:
        if name.startswith("widgets_area"):
            del sys.modules[name]


def _area(root: Path, name: str, listed: str, extra: bool = False) -> Area:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    routes = ROUTES.format(listed=listed)
    if extra:
        (package / "extra.py").write_text(textwrap.dedent(EXTRA))
        routes = f"from {name}.extra import public\n{routes}"
    (package / "routes.py").write_text(routes)
    return Area(importlib.import_module(name), ("routes",))


def test_every_router_of_the_app_is_listed() -> None:
    served = areas.routers()
    assert served and len({id(r) for r in served}) == len(served)


def test_a_listed_router_is_served(widgets: Path) -> None:
    area = _area(widgets, "widgets_area_1", "admin, portal")
    served = areas.routers([area])
    module = sys.modules["widgets_area_1.routes"]
    assert served == [module.admin, module.portal]


def test_a_router_left_out_of_the_list_fails_at_start_up(widgets: Path) -> None:
    area = _area(widgets, "widgets_area_2", "admin")
    with pytest.raises(UnservedRouter, match=r"not served: widgets_area_2\.routes\.portal"):
        areas.routers([area])


def test_a_router_in_another_module_of_the_area_must_be_listed_too(widgets: Path) -> None:
    area = _area(widgets, "widgets_area_3", "admin, portal", extra=True)
    with pytest.raises(UnservedRouter, match=r"widgets_area_3\.extra\.public"):
        areas.routers([area])
    listed = _area(widgets, "widgets_area_4", "admin, portal, public", extra=True)
    assert len(areas.routers([listed])) == 3

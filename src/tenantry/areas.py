"""The business areas, in one list, and the platform packages that have tables or routes.

Every consumer takes what it needs from this list: the app its routers, the demo
loader its fillers, the model registry (Alembic, the schema audit, the tests) its
models. The packages are imported by name right here, so a misspelt area fails at
start-up; each area also declares which of its modules exist (``models``, ``routes``,
``demo``), and importing one that is declared but missing fails too.

Order matters: it is dependency order, and demo fillers run in it (later areas point
at earlier areas' rows). A new area is one line here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tenantry import (
    accounts,
    attachments,
    auth,
    bookings,
    chat,
    contact,
    email,
    expenses,
    handoff,
    idempotency,
    invoices,
    jobs,
    observability,
    operator,
    payments,
    permissions,
    posts,
    reminders,
    service_requests,
    services,
    signup,
    team,
    tenant_settings,
    tenants,
    users,
    work_orders,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from tenantry.db.engine import Database
    from tenantry.kit.demo import DemoTenant

ALL_PARTS = ("models", "routes", "demo")


@dataclass(frozen=True)
class Area:
    package: ModuleType
    parts: tuple[str, ...] = ALL_PARTS

    @property
    def name(self) -> str:
        return self.package.__name__.rsplit(".", 1)[-1]

    def part(self, part: str) -> ModuleType | None:
        """``<area>.<part>`` if the area declares it (imported now), else None."""
        if part not in ALL_PARTS:
            raise ValueError(f"unknown area part {part!r}")
        if part not in self.parts:
            return None
        return importlib.import_module(f"{self.package.__name__}.{part}")


# Platform packages with tables or routes of their own (not business areas).
PLATFORM: tuple[Area, ...] = (
    Area(tenants, ("models", "routes")),
    Area(auth, ("models", "routes")),
    Area(accounts, ("routes",)),
    Area(handoff, ("routes",)),
    Area(idempotency, ("models",)),
    Area(jobs, ("models",)),
    Area(observability, ("models", "routes")),
    Area(operator, ("routes",)),
    Area(signup, ("routes",)),
)

AREAS: tuple[Area, ...] = (
    Area(services),
    Area(tenant_settings),
    Area(permissions, ("models", "routes")),
    Area(bookings),
    Area(service_requests),
    Area(work_orders),
    Area(invoices),
    Area(expenses),
    Area(chat),
    Area(posts),
    Area(reminders),
    Area(attachments),
    Area(contact),
    Area(payments, ("models", "routes")),
    Area(team),
    Area(users, ("routes",)),
    Area(email, ("routes",)),
)


def modules(part: str, areas: Iterable[Area] = (*PLATFORM, *AREAS)) -> list[ModuleType]:
    return [m for a in areas if (m := a.part(part)) is not None]


class UnservedRouter(RuntimeError):
    """A module of an area holds an APIRouter that no routes module lists."""


def routers(areas: Iterable[Area] = (*PLATFORM, *AREAS)) -> list[APIRouter]:
    """Each routes module exposes ``routers`` (a list) or ``router``.

    A router that is built but left out of that list would not be served, and nothing
    else would say so (its routes simply 404). So every APIRouter that any module of an
    area with routes holds at module level must be among the listed ones; one that is
    not fails here, at start-up, with its module and name.
    """
    from fastapi import APIRouter

    with_routes = [a for a in areas if "routes" in a.parts]
    found: list[APIRouter] = []
    for module in modules("routes", with_routes):
        found.extend(getattr(module, "routers", None) or [module.router])
    listed = {id(router) for router in found}
    unlisted = [
        f"{module.__name__}.{name}"
        for module in _all_modules(with_routes)
        for name, value in vars(module).items()
        if isinstance(value, APIRouter) and id(value) not in listed
    ]
    if unlisted:
        raise UnservedRouter(
            f"not served: {', '.join(unlisted)} (add it to its routes module's `routers`)"
        )
    return found


def _all_modules(areas: Iterable[Area]) -> list[ModuleType]:
    """Every module of the areas' packages (imported now)."""
    return [
        importlib.import_module(f"{area.package.__name__}.{info.name}")
        for area in areas
        for info in pkgutil.iter_modules(area.package.__path__)
        if not info.ispkg
    ]


def demo_fillers() -> list[Callable[[Database, DemoTenant], None]]:
    return [module.fill for module in modules("demo", AREAS)]


def load_models() -> Any:
    """Import every model module, so ``Base.metadata`` knows every table; returns it."""
    from tenantry.db import tenant  # noqa: F401 - the root table
    from tenantry.db.base import Base

    modules("models")
    return Base.metadata


def tenant_owned_tables() -> list[str]:
    """Names of every tenant-owned table, in dependency order."""
    from tenantry.db.base import Base, TenantOwned

    load_models()
    owned = {
        table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned)
        for table in mapper.tables
    }
    return [t.name for t in Base.metadata.sorted_tables if t.name in owned]

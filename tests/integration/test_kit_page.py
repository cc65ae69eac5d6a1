"""The kit's ``page``: the page and its total, with the ORM guard alone between a tenant
and the other tenant's rows.

As in ``test_wall_guard``: every session is a ``GuardedSession`` on the *migrator*
engine (BYPASSRLS: the database shows every tenant's rows) without a system scope, so a
total or a row of the other tenant could only be kept out by the guard. A page of one
entity sends its count as a scalar subquery of the page's own statement; these tests
fail if the guard's criterion did not reach into that subquery.
"""

from __future__ import annotations

import gc
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.kit.pagination import PageParams
from tenantry.kit.repository import _paged, page
from tenantry.services.models import Service
from tests.factories import make_tenant
from tests.helpers import guard_only_session


def _services(db: Database, tenant_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    with db.system_session(reason="seed page test") as s:
        rows = [
            Service(tenant_id=tenant_id, slug=f"page-{n}", name=f"Page {n}",
                    price_cents=100 * n, duration_minutes=30)
            for n in range(count)
        ]  # fmt: skip
        s.add_all(rows)
        s.flush()
        return [row.id for row in rows]  # in slug order


@pytest.fixture(scope="module")
def world(db: Database) -> dict[str, tuple[uuid.UUID, list[uuid.UUID]]]:
    """Tenant ``a`` with 3 services of ours, ``b`` with 5, ``empty`` with none (a tenant
    may come with services of its own: the tests count only ``page-*`` slugs)."""
    out = {}
    for name, count in (("a", 3), ("b", 5), ("empty", 0)):
        tenant = make_tenant(db, roles=("owner",))
        out[name] = (tenant.id, _services(db, tenant.id, count))
    return out


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with guard_only_session(db) as s:
        yield s


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])  # (conn, cursor, statement, parameters, context, executemany)

    event.listen(db.migrator_engine, "before_cursor_execute", record)
    yield sent
    event.remove(db.migrator_engine, "before_cursor_execute", record)


def ours() -> Any:
    return select(Service).where(Service.slug.like("page-%")).order_by(Service.slug)


def as_(world: dict[str, tuple[uuid.UUID, list[uuid.UUID]]], name: str) -> Any:
    return tenant_context(TenantContext(tenant_id=world[name][0], user_id=None))


def test_a_page_of_one_entity_is_one_statement_with_this_tenants_total(
    session: Session, world: dict[str, tuple[uuid.UUID, list[uuid.UUID]]], statements: list[str]
) -> None:
    session.connection()  # begun: only the page's statements are counted below
    statements.clear()
    for name in ("a", "b"):
        ids = world[name][1]
        with as_(world, name):
            first = page(session, ours(), PageParams(limit=2, offset=0))
            second = page(session, ours(), PageParams(limit=2, offset=2))
        assert (first.total, second.total) == (len(ids), len(ids))
        assert [s.id for s in first.items + second.items] == ids[:4]
    assert len(statements) == 4, statements  # one per page
    assert "count(*)" in statements[0]


def test_a_page_past_the_last_row_still_counts_this_tenants_rows_alone(
    session: Session, world: dict[str, tuple[uuid.UUID, list[uuid.UUID]]]
) -> None:
    with as_(world, "a"):
        past = page(session, ours(), PageParams(limit=2, offset=10))
    assert (past.items, past.total) == ([], 3)
    with as_(world, "empty"):
        empty = page(session, ours(), PageParams(limit=2, offset=0))
    assert (empty.items, empty.total) == ([], 0)


def test_a_page_of_one_column_and_of_several_columns(
    session: Session, world: dict[str, tuple[uuid.UUID, list[uuid.UUID]]]
) -> None:
    ids = world["b"][1]
    with as_(world, "b"):
        one = page(session, ours().with_only_columns(Service.id), PageParams(limit=3, offset=1))
        several = page(
            session,
            ours().with_only_columns(Service.id, Service.slug),
            PageParams(limit=3, offset=1),
        )
    assert (list(one.items), one.total) == (ids[1:4], 5)
    assert [row.id for row in several.items] == ids[1:4]  # rows keep their names
    assert [row.slug for row in several.items] == ["page-1", "page-2", "page-3"]
    assert several.total == 5


def test_one_statement_object_serves_every_tenant_and_every_bound(
    session: Session, world: dict[str, tuple[uuid.UUID, list[uuid.UUID]]]
) -> None:
    """What ``built_once`` hands out: the same statement object for every request, its
    page statements derived once; the tenant and the bounds are bound per execution."""
    stmt = ours()
    seen = []
    for name, limit, offset in (("a", 2, 1), ("b", 3, 0), ("a", 1, 0), ("b", 2, 3)):
        with as_(world, name):
            got = page(session, stmt, PageParams(limit=limit, offset=offset))
        ids = world[name][1]
        seen.append(([s.id for s in got.items], got.total))
        assert seen[-1] == (ids[offset : offset + limit], len(ids)), name
    assert _paged(stmt) is _paged(stmt)


def test_a_statements_page_statements_go_with_it() -> None:
    stmt = ours()
    _paged(stmt)
    ref = weakref.ref(stmt)
    del stmt
    gc.collect()
    assert ref() is None  # its entry held no reference to it: the entry went with it


def test_built_once_hands_out_one_object_per_arguments() -> None:
    from tenantry.bookings.repository import BookingFilters, by_start

    assert by_start(BookingFilters()) is by_start(BookingFilters())
    assert by_start(BookingFilters(status="pending")) is not by_start(BookingFilters())
    assert by_start(BookingFilters(), latest_first=True) is not by_start(BookingFilters())

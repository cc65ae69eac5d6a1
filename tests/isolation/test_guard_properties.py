"""Properties of the data walls for random tenants and random rows (hypothesis).

Wall 4 alone: sessions on the migrator's connection (BYPASSRLS — the database shows every
tenant) with the guard on. For any set of rows spread over a few tenants and any tenant T
as the context, every query shape returns exactly T's rows, and every bulk write touches
only T's rows.

Wall 5 alone: raw SQL as the app role (which the guard cannot see) inside tenant T's
transaction returns only T's rows.

Each example runs in one transaction that is rolled back, so examples never see each
other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.orm import Session, aliased

from tenantry.db.engine import Database
from tenantry.isolation.context import (
    TenantContext,
    dangerously_enter_system_scope,
    tenant_context,
)
from tenantry.services.models import Service
from tenantry.tenants.lifecycle import provision_tenant
from tests.helpers import guard_only_session

POOL = 4
SETTINGS = settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def pool(db: Database) -> list[uuid.UUID]:
    return [
        provision_tenant(db, slug=f"prop-{n}-{uuid.uuid4().hex[:8]}", name=f"Prop {n}").id
        for n in range(POOL)
    ]


rows_strategy = st.lists(
    st.tuples(st.integers(0, POOL - 1), st.integers(100, 100_000)), min_size=1, max_size=12
)
tenant_index = st.integers(0, POOL - 1)


def seed(
    s: Session, pool: list[uuid.UUID], rows: list[tuple[int, int]]
) -> dict[uuid.UUID, uuid.UUID]:
    """Insert the rows in a system scope; return row id → tenant id."""
    with dangerously_enter_system_scope(reason="test: property seed"):
        objs = [
            Service(tenant_id=pool[t], slug=f"p{n}", name=f"row {n}", price_cents=price,
                    duration_minutes=30)
            for n, (t, price) in enumerate(rows)
        ]  # fmt: skip
        s.add_all(objs)
        s.flush()
        owners = {o.id: o.tenant_id for o in objs}
    s.expunge_all()  # never carry objects from the system scope into a tenant scope
    return owners


QUERIES: dict[str, Callable[[Session, uuid.UUID], list[uuid.UUID]]] = {
    "select": lambda s, other: list(s.scalars(select(Service.id))),
    "entities": lambda s, other: [o.id for o in s.scalars(select(Service))],
    "where-other-tenant": lambda s, other: list(
        s.scalars(select(Service.id).where(Service.tenant_id == other))
    ),
    "aliased": lambda s, other: list(s.scalars(select(aliased(Service).id))),
    "subquery": lambda s, other: list(
        s.scalars(select(Service.id).where(Service.id.in_(select(Service.id).scalar_subquery())))
    ),
}


@SETTINGS
@given(
    rows=rows_strategy, me=tenant_index, other=tenant_index, shape=st.sampled_from(sorted(QUERIES))
)
def test_a_guarded_query_returns_exactly_the_context_tenants_rows(
    db: Database, pool: list[uuid.UUID], rows: Any, me: int, other: int, shape: str
) -> None:
    with guard_only_session(db) as s:
        owners = seed(s, pool, rows)
        tenant = pool[me]
        with tenant_context(TenantContext(tenant_id=tenant)):
            got = QUERIES[shape](s, pool[other])
            count = s.scalar(select(func.count()).select_from(Service))
            any_other = s.scalar(select(exists().where(Service.tenant_id != tenant)))
        mine = {rid for rid, t in owners.items() if t == tenant}
        expected = mine if shape != "where-other-tenant" or other == me else set()
        assert set(got) == expected
        assert count == len(mine)
        assert any_other is False


@SETTINGS
@given(rows=rows_strategy, me=tenant_index, new_price=st.integers(1, 99))
def test_guarded_bulk_writes_touch_only_the_context_tenants_rows(
    db: Database, pool: list[uuid.UUID], rows: Any, me: int, new_price: int
) -> None:
    with guard_only_session(db) as s:
        owners = seed(s, pool, rows)
        tenant = pool[me]
        with tenant_context(TenantContext(tenant_id=tenant)):
            s.execute(update(Service).values(price_cents=new_price))
            s.execute(delete(Service).where(Service.price_cents == new_price))
        s.expunge_all()
        with dangerously_enter_system_scope(reason="test: property check"):
            stmt = select(Service.id, Service.tenant_id).where(Service.id.in_(list(owners)))
            left = {rid: t for rid, t in s.execute(stmt)}
        assert left == {rid: t for rid, t in owners.items() if t != tenant}


@SETTINGS
@given(rows=rows_strategy, me=tenant_index)
def test_rls_alone_shows_raw_sql_only_the_transactions_tenant(
    db: Database, pool: list[uuid.UUID], rows: Any, me: int
) -> None:
    """Rows go in through the app role itself, each under its own tenant's setting (RLS's
    WITH CHECK refuses anything else); pinned to T, raw SQL then sees T's rows only."""
    tenant = pool[me]
    with db.new_session() as s:
        try:
            mine = set()
            for n, (t, price) in enumerate(rows):
                with tenant_context(TenantContext(tenant_id=pool[t])):
                    s.execute(
                        text("select set_config('app.current_tenant_id', :t, true)"),
                        {"t": str(pool[t])},
                    )
                    rid = s.scalar(
                        text(
                            "insert into services (tenant_id, slug, name, price_cents,"
                            " duration_minutes) values (:t, :slug, 'x', :p, 30) returning id"
                        ),
                        {"t": pool[t], "slug": f"r{n}", "p": price},
                    )
                if pool[t] == tenant:
                    mine.add(rid)
            s.execute(
                text("select set_config('app.current_tenant_id', :t, true)"), {"t": str(tenant)}
            )
            seen = set(
                s.scalars(
                    text("select id from services where tenant_id = any(:ids)"), {"ids": pool}
                )
            )
            tenants = set(s.scalars(text("select distinct tenant_id from services")))
            assert seen == mine
            assert tenants <= {tenant}
        finally:
            s.rollback()

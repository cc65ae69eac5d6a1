"""The isolation-overhead bench times its units on the path it says it does.

With the default ``loop`` driver every timed unit runs as a request's unit does: in a
greenlet on the event loop, over psycopg's async connection, and the app's variants are
pinned to the tenant by their BEGIN; ``off`` and its A/A twin are pinned to nothing. The
``blocking`` driver runs the same units off the loop, on psycopg's blocking connection.
Checked from inside the timed unit itself, on a real server; no timing is asserted.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from bench.isolation_overhead.data import TenantSample
from bench.isolation_overhead.workload import DRIVERS, VARIANTS, Query, Runner
from sqlalchemy import text
from sqlalchemy.orm import Session

from tenantry.db.loop import on_loop

EXPECTED_CONNECTION = {"loop": psycopg.AsyncConnection, "blocking": psycopg.Connection}


@pytest.mark.parametrize("driver", DRIVERS)
def test_each_timed_unit_runs_where_the_driver_says_pinned_as_its_variant(
    database_urls, driver
) -> None:
    seen: dict[str, dict[str, Any]] = {}
    running: list[str] = []  # the variant the runner is timing (probe gets its base)

    def probe(s: Session, t: TenantSample, i: int, variant: Any) -> None:
        raw = s.connection().connection.driver_connection
        pinned = s.execute(text("select current_setting('app.current_tenant_id', true)"))
        seen[running[-1]] = {
            "on_loop": on_loop(),
            "connection": type(raw),
            "pinned": pinned.scalar() or None,
            "guarded": type(s).__name__,
        }

    query = Query("probe", "-", "where the unit runs", probe)
    tenant = TenantSample(id=uuid.uuid4(), rank=1, rows={})
    runner = Runner(database_urls, driver)
    try:
        for variant in VARIANTS:
            running.append(variant)
            assert runner.timed(query, variant, tenant, 0) > 0
        first = dict(seen)
        runner.recycle()  # new connections between blocks serve the same way
        for variant in VARIANTS:
            running.append(variant)
            assert runner.timed(query, variant, tenant, 1) > 0
    finally:
        runner.dispose()
    assert seen == first

    assert set(seen) == set(VARIANTS)
    for variant, facts in seen.items():
        assert facts["on_loop"] is (driver == "loop"), (variant, facts)
        assert issubclass(facts["connection"], EXPECTED_CONNECTION[driver]), (variant, facts)
        expected_pin = str(tenant.id) if variant in ("walls", "rls", "set") else None
        assert facts["pinned"] == expected_pin, (variant, facts)
    assert seen["walls"]["guarded"] == "GuardedSession"
    assert {seen[v]["guarded"] for v in VARIANTS if v != "walls"} == {"Session"}

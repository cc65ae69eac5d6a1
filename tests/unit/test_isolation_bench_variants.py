"""The isolation-overhead bench compares variants fairly: each on an engine of its own,
on the driver requests use.

A server backend used twice as often as another runs the same statement ~4-5 % faster on
the 2-vCPU machine (an A/A probe, bench/README.md "Session 8"). When ``walls`` and ``rls``
shared one engine, that flattered both against ``off``; this keeps them apart. Since
e0a65c6 a request's unit runs on psycopg's async connection in a greenlet on the event
loop, so that is the bench's default driver; the blocking one (CLI, job worker) stays
selectable. No database is needed: engines connect lazily.
"""

from __future__ import annotations

import pytest
from bench.isolation_overhead.workload import DRIVERS, VARIANTS, Runner
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg, PGDialectAsync_psycopg
from sqlalchemy.engine import make_url

from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.dialect import TenantryAsyncDialect, TenantryDialect
from tenantry.isolation.guard import GuardedSession


def _urls() -> DatabaseUrls:
    def url(role: str) -> object:
        return make_url(f"postgresql+psycopg://{role}:pw@localhost:1/bench")

    return DatabaseUrls(
        admin=url("admin"), migrator=url("migrator"), app=url("app"), worker=url("worker"),
        database="bench", migrator_role="migrator", app_role="app", worker_role="worker",
    )  # type: ignore[arg-type]  # fmt: skip


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_variant_runs_on_an_engine_of_its_own(driver) -> None:
    runner = Runner(_urls(), driver)
    try:
        engines = {v: runner._factories[v].kw["bind"] for v in VARIANTS}
        assert len({id(e) for e in engines.values()}) == len(VARIANTS), engines
        # ... and each variant on the role it stands for.
        assert engines["walls"].url.username == engines["rls"].url.username == "app"
        assert {engines[v].url.username for v in ("off", "set", "aa")} == {"migrator"}
        # Recycling (between blocks) keeps the engines, with new pools.
        pools = {v: e.pool for v, e in engines.items()}
        runner.recycle()
        assert all(engines[v].pool is not pools[v] for v in VARIANTS)
    finally:
        runner.dispose()


def test_the_default_driver_is_the_one_a_requests_unit_runs_on() -> None:
    runner = Runner(_urls())
    try:
        assert runner.driver == "loop"
        dialects = {v: runner._factories[v].kw["bind"].dialect for v in VARIANTS}
        # The app's variants on the loop engine's dialect (the pin in the BEGIN message,
        # sent on psycopg's async connection), the guard on walls alone ...
        for v in ("walls", "rls", "set"):
            assert type(dialects[v]) is TenantryAsyncDialect, (v, dialects[v])
        # ... and off and its twin on SQLAlchemy's stock psycopg async dialect.
        for v in ("off", "aa"):
            assert type(dialects[v]) is PGDialectAsync_psycopg, (v, dialects[v])
        # (sessionmaker hands out a subclass of the class it was given)
        guarded = {v for v in VARIANTS if issubclass(runner._factories[v].class_, GuardedSession)}
        assert guarded == {"walls"}
    finally:
        runner.dispose()


def test_the_blocking_driver_is_the_one_the_cli_and_jobs_use() -> None:
    runner = Runner(_urls(), "blocking")
    try:
        dialects = {v: type(runner._factories[v].kw["bind"].dialect) for v in VARIANTS}
        assert {dialects[v] for v in ("walls", "rls", "set")} == {TenantryDialect}
        assert {dialects[v] for v in ("off", "aa")} == {PGDialect_psycopg}
    finally:
        runner.dispose()


def test_an_unknown_driver_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown driver"):
        Runner(_urls(), "threads")  # type: ignore[arg-type]

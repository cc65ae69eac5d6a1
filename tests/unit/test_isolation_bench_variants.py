"""The isolation-overhead bench compares variants fairly: each on an engine of its own.

A server backend used twice as often as another runs the same statement ~4-5 % faster on
the 2-vCPU machine (an A/A probe, bench/README.md "Session 8"). When ``walls`` and ``rls``
shared one engine, that flattered both against ``off``; this keeps them apart. No
database is needed: engines connect lazily.
"""

from __future__ import annotations

from bench.isolation_overhead.workload import VARIANTS, Runner
from sqlalchemy.engine import make_url

from tenantry.db.bootstrap import DatabaseUrls


def _urls() -> DatabaseUrls:
    def url(role: str) -> object:
        return make_url(f"postgresql+psycopg://{role}:pw@localhost:1/bench")

    return DatabaseUrls(
        admin=url("admin"), migrator=url("migrator"), app=url("app"), worker=url("worker"),
        database="bench", migrator_role="migrator", app_role="app", worker_role="worker",
    )  # type: ignore[arg-type]  # fmt: skip


def test_every_variant_runs_on_an_engine_of_its_own() -> None:
    runner = Runner(_urls())
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

"""The isolation-overhead bench at the smallest size its checks apply to, so the harness
cannot rot.

No wall-clock assertions: every query yields ratios and every tenant query an EXPLAIN
plan; at this size the main tables reach the plan check's threshold, so the check really
looks at large tables (and finds no sequential scan); and the ``walls`` variant reads
exactly the tenant's rows, while the same statements with no wall read other tenants'.
The real numbers come from ``python -m bench.isolation_overhead``.
"""

from __future__ import annotations

import json
import math

from bench.isolation_overhead import BenchConfig, run
from bench.isolation_overhead.main import LARGE_TABLE_ROWS
from bench.isolation_overhead.workload import QUERIES

MAIN_TABLES = ("service_requests", "bookings", "invoices")


def test_bench_harness_produces_ratios_plans_and_tenant_rows(database_urls, tmp_path):
    # Invoices get a quarter of the rows: 44,000 puts all three main tables over the
    # plan check's threshold (10,000 rows).
    config = BenchConfig(
        rows=44_000, tenants=100, iterations=2, warmup=1, large=2, small=3, lookups=4,
        blocks=2, rewarm=1, label="smoke",
    )  # fmt: skip
    result = run(config, admin=database_urls.admin, results_dir=tmp_path, log=False)

    assert set(result.stats) == {q.name for q in QUERIES}
    for by_kind in result.stats.values():
        for stat in by_kind.values():
            assert stat.n > 0
            assert math.isfinite(stat.ratio_median) and stat.ratio_median > 0
            assert math.isfinite(stat.ratio_p95)
            assert math.isfinite(stat.aa_ratio_median) and stat.aa_ratio_median > 0
            assert math.isfinite(stat.block_ratio_min)
            assert stat.block_ratio_min <= stat.block_ratio_max
    # Every block was measured (each on connections of its own).
    for by_kind in result.samples.values():
        assert {s["block"] for s in by_kind["large"] + by_kind["small"]} == {0, 1}

    # The plan check ran at size: every main table is large, and the walls plans read them.
    assert all(result.dataset.rows[t] >= LARGE_TABLE_ROWS for t in MAIN_TABLES), result.dataset.rows
    walls_plans = [p for p in result.plans if p.variant == "walls"]
    assert {p.query for p in walls_plans} == {q.name for q in QUERIES}
    assert all(p.text and p.statement for p in walls_plans)
    scanned = {relation for p in walls_plans for _, relation in p.scans}
    assert set(MAIN_TABLES) <= scanned
    assert result.violations == [], result.violations

    # The walls variant reads the tenant's rows and only those; the check is not vacuous.
    reads = {q.name for q in QUERIES if not q.writes}
    assert result.rows.problems == [], result.rows.problems
    assert result.rows.checked == len(reads) * (config.large + config.small)
    assert set(result.rows.non_empty) == reads
    assert {"filtered_list", "count", "ilike_scoped", "ilike_plain"} <= set(
        result.rows.control_saw_others
    )

    report = json.loads((tmp_path / "isolation_overhead_smoke.json").read_text())
    assert set(report["stats"]) == {q.name for q in QUERIES}
    assert report["plan_violations"] == [] and report["row_check"]["problems"] == []
    markdown = (tmp_path / "isolation_overhead_smoke.md").read_text()
    assert "walls/off" in markdown and "Row check: in" in markdown

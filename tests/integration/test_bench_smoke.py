"""The isolation-overhead bench at a tiny size, so the harness cannot rot.

No wall-clock assertions: only that every query yields ratios and every tenant query an
EXPLAIN plan. The real numbers come from ``python -m bench.isolation_overhead``.
"""

from __future__ import annotations

import json
import math

from bench.isolation_overhead import BenchConfig, run
from bench.isolation_overhead.workload import QUERIES


def test_bench_harness_produces_ratios_and_plans(database_urls, tmp_path):
    config = BenchConfig(
        rows=3_000, tenants=20, iterations=3, warmup=1, large=2, small=3, lookups=4,
        label="smoke",
    )  # fmt: skip
    result = run(config, admin=database_urls.admin, results_dir=tmp_path, log=False)

    assert set(result.stats) == {q.name for q in QUERIES}
    for by_kind in result.stats.values():
        for stat in by_kind.values():
            assert stat.n > 0
            assert math.isfinite(stat.ratio_median) and stat.ratio_median > 0
            assert math.isfinite(stat.ratio_p95)

    walls_plans = [p for p in result.plans if p.variant == "walls"]
    assert {p.query for p in walls_plans} == {q.name for q in QUERIES}
    assert all(p.text and p.statement for p in walls_plans)

    report = json.loads((tmp_path / "isolation_overhead_smoke.json").read_text())
    assert set(report["stats"]) == {q.name for q in QUERIES}
    assert "walls/off" in (tmp_path / "isolation_overhead_smoke.md").read_text()

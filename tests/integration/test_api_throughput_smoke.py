"""The API throughput bench at a tiny size (one 1-second wrk run per side and scenario),
so the harness cannot rot. No timing assertions: only that both servers answered every
scenario with the same rows, wrk measured each, and the ratios and files exist. The real
numbers come from ``python -m bench.api_throughput``."""

from __future__ import annotations

import json
import math

import pytest
from bench.api_throughput import SMOKE, ThroughputConfig, run
from bench.api_throughput.load import parse_wrk, wrk_path
from bench.api_throughput.main import SCENARIOS

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:1/x
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.53ms    1.02ms  12.41ms   85.12%
  Latency Distribution
     50%    2.31ms
     75%    2.80ms
     90%    3.52ms
     99%    1.20s
  3120 requests in 1.00s, 1.21MB read
  Non-2xx or 3xx responses: 4
Requests/sec:   3108.42
Transfer/sec:      1.20MB
"""


def test_wrk_output_is_read_with_units():
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests == 3120
    assert result.rps == pytest.approx(3108.42)
    assert result.p50_ms == pytest.approx(2.31)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.non_2xx == 4 and result.socket_errors == 0


@pytest.mark.slow
def test_bench_serves_both_sides_and_reports_ratios(database_urls, settings, tmp_path):
    if wrk_path() is None:
        pytest.skip("wrk is not installed (apt-get install wrk; .ci/run installs it)")
    result = run(
        ThroughputConfig(**SMOKE),
        database=(database_urls, settings.data_dir),
        results_dir=tmp_path,
        log=False,
    )

    assert set(result.ratios) == set(SCENARIOS)
    assert all(math.isfinite(r) and r > 0 for rs in result.ratios.values() for r in rs)
    assert {(r["scenario"], r["side"]) for r in result.runs} == {
        (s, side) for s in SCENARIOS for side in ("tenantry", "bare")
    }
    assert all(r["requests"] > 0 and r["non_2xx"] == 0 for r in result.runs), result.runs
    # What each server process spent per request, read from /proc with every run.
    assert all(r["cpu_ms"] > 0 and r["voluntary_switches"] >= 0 for r in result.runs), result.runs
    report = json.loads((tmp_path / "api_throughput_smoke.json").read_text())
    assert set(report["summary"]) == set(SCENARIOS)
    text = (tmp_path / "api_throughput_smoke.md").read_text()
    assert "ratio (median)" in text and "Server process per request" in text

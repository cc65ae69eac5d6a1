"""bench/noisy_neighbour pools each phase's rounds from wrk's percentile grids: the
pooled p99 must be the p99 of all the requests together, not an average of p99s."""

from __future__ import annotations

import math
import random

from bench.noisy_neighbour.__main__ import cpu_per_refusal, pooled_percentile, summarise

GRID = [i / 2 for i in range(1, 200)] + [99.5 + i / 200 for i in range(1, 100)]


def wrk_run(latencies_us: list[int]) -> dict[str, object]:
    """What the bench reads from one wrk run: its request count and its latency at the
    grid of percentiles (wrk: the least latency with at least p % of requests at or
    below it), the maximum at 100."""
    ordered = sorted(latencies_us)
    n = len(ordered)
    quantiles = [(q, float(ordered[max(0, math.ceil(n * q / 100) - 1)])) for q in GRID]
    return {"requests": n, "quantiles": [*quantiles, (100.0, float(ordered[-1]))]}


def exact(latencies_us: list[int], pct: float) -> float:
    ordered = sorted(latencies_us)
    return ordered[math.ceil(len(ordered) * pct / 100) - 1] / 1000


def test_the_pooled_p99_is_the_p99_of_all_requests_not_a_mean_of_p99s() -> None:
    rng = random.Random(7)
    quiet = [int(rng.lognormvariate(8.4, 0.3)) for _ in range(1600)]  # ~4.5 ms, thin tail
    spiky = [int(rng.lognormvariate(8.4, 0.3)) for _ in range(1560)] + [40_000] * 40
    pooled = pooled_percentile([wrk_run(quiet), wrk_run(spiky)], 99)
    assert abs(pooled - exact(quiet + spiky, 99)) <= 0.02 * exact(quiet + spiky, 99)
    # A median or mean of the two runs' own p99s would say something else entirely.
    mean_of_p99s = (exact(quiet, 99) + exact(spiky, 99)) / 2
    assert abs(pooled - mean_of_p99s) > 5


def test_pooling_weighs_each_run_by_its_requests() -> None:
    rng = random.Random(11)
    small_slow = [int(rng.uniform(20_000, 30_000)) for _ in range(50)]
    big_fast = [int(rng.uniform(1_000, 2_000)) for _ in range(5000)]
    runs = [wrk_run(small_slow), wrk_run(big_fast)]
    for pct in (50, 90, 99):
        want = exact(small_slow + big_fast, pct)
        assert abs(pooled_percentile(runs, pct) - want) <= 0.02 * want


def test_no_runs_no_figure() -> None:
    assert pooled_percentile([], 99) == 0.0
    assert pooled_percentile([{"requests": 0, "quantiles": []}], 99) == 0.0


def phase(latencies_us: list[int], tenant: dict[str, object] | None = None) -> dict[str, object]:
    others = wrk_run(latencies_us) | {
        "p50_ms": exact(latencies_us, 50),
        "p90_ms": exact(latencies_us, 90),
        "p99_ms": exact(latencies_us, 99),
        "mean_ms": sum(latencies_us) / len(latencies_us) / 1000,
        "non_2xx": 0,
        "socket_errors": 0,
    }
    return {"others": others} | ({"abuser": tenant} if tenant else {})


def test_the_at_budget_phase_splits_the_rise_into_allowed_load_and_refused_surplus() -> None:
    rng = random.Random(3)

    def lat(scale: float) -> list[int]:
        return [int(rng.lognormvariate(8.4, 0.3) * scale) for _ in range(1600)]

    tenant = {"sent": 100, "ok": 95, "refused": 5, "other": 0}
    abusive = {"sent": 1000, "ok": 100, "refused": 900, "other": 0}
    tenant["throttled_after_budget_s"], abusive["throttled_after_budget_s"] = None, 0.01
    rounds = [
        {
            "round": n + 1,
            "baseline": phase(lat(1.0)),
            "at_budget": phase(lat(1.05), dict(tenant)),
            "abuser": phase(lat(1.2), dict(abusive)),
            "p99_ratio": 1.2,
        }
        for n in range(4)
    ]
    result = summarise({}, rounds)
    p99 = {name: result["pooled"][name]["p99_ms"] for name in ("baseline", "at_budget", "abuser")}
    assert result["at_budget_p99_ratio_pooled"] == round(p99["at_budget"] / p99["baseline"], 3)
    assert result["surplus_p99_ratio_pooled"] == round(p99["abuser"] / p99["at_budget"], 3)
    # The two parts multiply back to the whole rise (to rounding).
    whole = result["at_budget_p99_ratio_pooled"] * result["surplus_p99_ratio_pooled"]
    assert abs(whole - result["others_p99_ratio_pooled"]) < 0.005
    assert 1.0 < result["at_budget_p99_ratio_pooled"] < result["others_p99_ratio_pooled"]
    assert result["at_budget_tenant"] == {"sent": 400, "ok": 380, "refused": 20}
    assert result["abuser"]["refused"] == 3600  # the abusive phase only


def test_a_refusal_costs_the_cpu_the_abuser_phase_adds_over_the_at_budget_phase() -> None:
    def round_(at_budget_cpu: float, abuser_cpu: float) -> dict[str, object]:
        return {
            "at_budget": {"server_cpu_s": at_budget_cpu, "abuser": {"refused": 40}},
            "abuser": {"server_cpu_s": abuser_cpu, "abuser": {"refused": 1840}},
        }

    # 1800 more refusals cost 0.9, 1.8 and 0.45 s: 0.5, 1.0 and 0.25 ms each; median 0.5.
    rounds = [round_(4.0, 4.9), round_(4.0, 5.8), round_(4.0, 4.45)]
    assert cpu_per_refusal(rounds) == 0.5
    assert cpu_per_refusal([{"at_budget": {}, "abuser": {}}]) is None  # not measured

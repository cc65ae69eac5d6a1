"""Results: ``api_throughput[_<label>].json`` (every run) and ``.md`` (the tables)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.api_throughput.main import ThroughputResult

TARGETS = {"read": 0.5, "list": 0.4}


def markdown(result: ThroughputResult) -> str:
    cfg = result.config
    lines = [
        f"`python -m bench.api_throughput` ({cfg.rounds} rounds x {cfg.seconds:g} s per run, "
        f"wrk -t1 -c{cfg.connections}, one uvicorn worker each; load average "
        f"{result.machine.get('loadavg_start')} at the start, "
        f"{result.machine.get('loadavg_end')} at the end)",
        "",
        "| scenario | tenantry req/s | bare req/s | ratio (median) | ratio min-max | target "
        "| tenantry p50 / p99 ms | bare p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario, row in result.summary().items():
        target = TARGETS.get(scenario)
        lines.append(
            f"| {scenario} | {row['tenantry_rps']:,.0f} | {row['bare_rps']:,.0f} "
            f"| **{row['ratio_median']:.2f}** | {row['ratio_min']:.2f}-{row['ratio_max']:.2f} "
            f"| {f'>= {target:.1f}' if target else '-'} "
            f"| {row['tenantry_p50_ms']:.2f} / {row['tenantry_p99_ms']:.2f} "
            f"| {row['bare_p50_ms']:.2f} / {row['bare_p99_ms']:.2f} |"
        )
    lines += _server_table(result)
    lines += ["", "Per round (tenantry / bare req/s, ratio):", ""]
    lines.append("| round | " + " | ".join(result.ratios) + " |")
    lines.append("|---|" + "---:|" * len(result.ratios))
    for rnd in range(1, cfg.rounds + 1):
        cells = []
        for scenario in result.ratios:
            by_side = {
                r["side"]: r for r in result.runs if r["round"] == rnd and r["scenario"] == scenario
            }
            cells.append(
                f"{by_side['tenantry']['rps']:,.0f} / {by_side['bare']['rps']:,.0f} "
                f"({result.ratios[scenario][rnd - 1]:.2f})"
            )
        lines.append(f"| {rnd} | " + " | ".join(cells) + " |")
    errors = [r for r in result.runs if r["non_2xx"] or r["socket_errors"]]
    if errors:
        lines += ["", f"**{len(errors)} runs had non-2xx answers or socket errors.**"]
    for scenario, text in result.profiles.items():
        lines += [
            "",
            f"Profile of the Tenantry server, {scenario} (py-spy --gil):",
            "",
            "```",
            text.rstrip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def _server_table(result: ThroughputResult) -> list[str]:
    """What each server process spent per request (medians of the runs), where known."""
    rows = [
        (scenario, row)
        for scenario, row in result.summary().items()
        if "tenantry_cpu_ms" in row and "bare_cpu_ms" in row
    ]
    if not rows:
        return []
    lines = [
        "",
        "Server process per request (median of the runs; CPU = user + system; voluntary "
        "context switches are mostly GIL and thread hand-offs):",
        "",
        "| scenario | tenantry CPU ms (system) | bare CPU ms (system) "
        "| tenantry switches vol / invol | bare switches vol / invol |",
        "|---|---:|---:|---:|---:|",
    ]
    for scenario, row in rows:
        lines.append(
            f"| {scenario} | {row['tenantry_cpu_ms']:.2f} ({row['tenantry_sys_ms']:.2f}) "
            f"| {row['bare_cpu_ms']:.2f} ({row['bare_sys_ms']:.2f}) "
            f"| {row['tenantry_voluntary_switches']:.1f} / "
            f"{row['tenantry_involuntary_switches']:.1f} "
            f"| {row['bare_voluntary_switches']:.1f} / {row['bare_involuntary_switches']:.1f} |"
        )
    return lines


def write_results(result: ThroughputResult, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    label = result.config.label
    stem = "api_throughput" if label == "full" else f"api_throughput_{label}"
    payload = {
        "config": asdict(result.config),
        "machine": result.machine,
        "summary": result.summary(),
        "ratios": result.ratios,
        "runs": result.runs,
        "profiles": result.profiles,
    }
    (folder / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (folder / f"{stem}.md").write_text(markdown(result))

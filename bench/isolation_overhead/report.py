"""Ratios and the files they are written to."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TARGET = 1.10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Stat:
    """One query on one class of tenants (or all of them): times in microseconds."""

    n: int
    off_us: float  # median
    walls_us: float
    set_us: float
    rls_us: float
    ratio_median: float  # median over iterations of walls_i / off_i
    ratio_p95: float
    set_ratio_median: float  # set_i / off_i: pinning the transaction
    policy_ratio_median: float  # rls_i / set_i: the policy (app role, RLS on)
    guard_ratio_median: float  # walls_i / rls_i: the ORM guard
    aa_ratio_median: float = float("nan")  # aa_i / off_i: identical twins, the noise floor
    block_ratio_min: float = float("nan")  # walls/off median of the lowest block
    block_ratio_max: float = float("nan")  # ... and of the highest


def summarize(samples: list[dict[str, int]]) -> Stat:
    def ratios(a: str, b: str, of: list[dict[str, int]] = samples) -> list[float]:
        return [s[a] / s[b] for s in of]

    walls = ratios("walls", "off")
    nan = float("nan")
    blocks: dict[int, list[dict[str, int]]] = {}
    for s in samples:
        blocks.setdefault(s.get("block", 0), []).append(s)
    per_block = [statistics.median(ratios("walls", "off", b)) for b in blocks.values()]

    def med_us(v: str) -> float:
        return statistics.median(s[v] for s in samples) / 1000

    return Stat(
        n=len(samples),
        off_us=med_us("off"),
        walls_us=med_us("walls"),
        set_us=med_us("set"),
        rls_us=med_us("rls"),
        ratio_median=statistics.median(walls),
        ratio_p95=percentile(walls, 0.95),
        set_ratio_median=statistics.median(ratios("set", "off")),
        policy_ratio_median=statistics.median(ratios("rls", "set")),
        guard_ratio_median=statistics.median(ratios("walls", "rls")),
        aa_ratio_median=statistics.median(ratios("aa", "off")) if "aa" in samples[0] else nan,
        block_ratio_min=min(per_block),
        block_ratio_max=max(per_block),
    )


def markdown_table(stats: dict[str, dict[str, Stat]]) -> str:
    lines = [
        "| query | tenants | walls/off median | blocks | p95 | off µs | walls µs "
        "| set/off (pin) | rls/set (policy) | walls/rls (guard) | A/A (aa/off) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for query, by_kind in stats.items():
        for kind in ("all", "large", "small"):
            s = by_kind.get(kind)
            if s is None:
                continue
            flag = " ⚠" if kind == "all" and s.ratio_median > TARGET else ""
            lines.append(
                f"| {query if kind == 'all' else ''} | {kind} | **{s.ratio_median:.3f}**{flag} "
                f"| {s.block_ratio_min:.3f}-{s.block_ratio_max:.3f} "
                f"| {s.ratio_p95:.3f} | {s.off_us:,.0f} | {s.walls_us:,.0f} "
                f"| {s.set_ratio_median:.3f} | {s.policy_ratio_median:.3f} "
                f"| {s.guard_ratio_median:.3f} | {s.aa_ratio_median:.3f} |"
            )
    return "\n".join(lines)


def write_results(
    results_dir: Path, stem: str, payload: dict[str, Any], markdown: str
) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = results_dir / f"{stem}.json", results_dir / f"{stem}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    md_path.write_text(markdown + "\n")
    return json_path, md_path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return str(value)

"""EXPLAIN the tenant queries and insist that large tables are read through an index.

A tenant-scoped query that scans a whole large table costs every tenant for the
largest one's sake; with RLS it is also the symptom of a policy predicate the planner
could not use as an index condition (a volatile or non-inlinable expression).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_TIMING = re.compile(r"^(Planning|Execution) Time: ([0-9.]+) ms$")
INDEX_NODES = frozenset({"Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan"})


@dataclass
class PlanCheck:
    query: str
    variant: str
    statement: str
    text: list[str]
    scans: list[tuple[str, str]] = field(default_factory=list)  # (node type, relation)
    violations: list[str] = field(default_factory=list)
    planning_ms: float | None = None  # from EXPLAIN ANALYZE's summary
    execution_ms: float | None = None

    @property
    def access(self) -> str:
        return ", ".join(f"{kind} on {rel}" for kind, rel in self.scans) or "(no scan)"


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def check_plan(
    query: str,
    variant: str,
    statement: str,
    plan_json: Any,
    text_lines: list[str],
    large_tables: set[str],
) -> PlanCheck:
    result = PlanCheck(query, variant, statement, text_lines)
    for line in text_lines:
        if m := _TIMING.match(line.strip()):
            setattr(result, f"{m[1].lower()}_ms", float(m[2]))
    root = plan_json[0]["Plan"]
    for node in _nodes(root):
        relation = node.get("Relation Name")
        kind = node["Node Type"]
        if relation is None or kind == "ModifyTable":
            continue
        result.scans.append((kind, relation))
        if relation in large_tables and kind not in INDEX_NODES:
            result.violations.append(f"{kind} on {relation}")
    return result

"""The walls variant must read exactly the tenant's rows — what is measured must be right.

For every read query and every sampled tenant: what ``walls`` reads (the guard's
predicate, RLS) equals what ``off`` reads (the hand-written predicate), and every row it
reads is the tenant's. The control shows the check can fail: the ``walls`` statement —
which carries no tenant predicate of its own — run with no wall at all (``unscoped``)
must read other tenants' rows for the queries that can see them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from bench.isolation_overhead.data import Dataset
from bench.isolation_overhead.workload import Query, Runner


@dataclass
class RowCheck:
    problems: list[str] = field(default_factory=list)
    checked: int = 0  # (query, tenant) pairs
    # Queries whose walls answer was not empty for some tenant (an empty answer equal to
    # an empty answer proves little), and whose unscoped control read more than the tenant.
    non_empty: list[str] = field(default_factory=list)
    control_saw_others: list[str] = field(default_factory=list)


def _pairs(result: Any) -> list[tuple[Any, Any]]:
    """Every (tenant_id, id) pair in a query's result (a list, or a tuple of results)."""
    if isinstance(result, tuple):
        return [p for part in result for p in _pairs(part)]
    if isinstance(result, list):
        return list(result)
    return []


def _norm(result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(_norm(part) for part in result)
    if isinstance(result, list):
        return sorted((str(t), str(i)) for t, i in result)
    return result


def _size(result: Any) -> int:
    if isinstance(result, int):
        return result
    if isinstance(result, tuple):
        return sum(_size(part) for part in result)
    return len(_pairs(result))


def check_rows(runner: Runner, dataset: Dataset, queries: tuple[Query, ...]) -> RowCheck:
    check = RowCheck()
    non_empty: set[str] = set()
    others: set[str] = set()
    for query in queries:
        if query.writes:
            continue
        for tenant in [*dataset.large, *dataset.small]:
            walls = runner.result(query, "walls", tenant)
            off = runner.result(query, "off", tenant)
            unscoped = runner.result(query, "unscoped", tenant)
            check.checked += 1
            who = f"{query.name} (tenant of rank {tenant.rank})"
            foreign = {t for t, _ in _pairs(walls) if uuid.UUID(str(t)) != tenant.id}
            if foreign:
                check.problems.append(f"{who}: walls read rows of {len(foreign)} other tenant(s)")
            if _norm(walls) != _norm(off):
                check.problems.append(
                    f"{who}: walls read {_size(walls)} rows, the hand-written predicate "
                    f"{_size(off)}"
                )
            if _size(walls):
                non_empty.add(query.name)
            if _norm(unscoped) != _norm(off):
                others.add(query.name)
    check.non_empty, check.control_saw_others = sorted(non_empty), sorted(others)
    return check

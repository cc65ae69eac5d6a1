"""Command line and orchestration: database → data → interleaved timings → plans → report."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from bench.isolation_overhead.data import Dataset, TenantSample, load
from bench.isolation_overhead.plans import PlanCheck, check_plan
from bench.isolation_overhead.report import (
    TARGET,
    Stat,
    markdown_table,
    summarize,
    write_results,
)
from bench.isolation_overhead.rows import RowCheck, check_rows
from bench.isolation_overhead.server import bench_database
from bench.isolation_overhead.workload import (
    DRIVERS,
    QUERIES,
    TRIGRAM_QUERIES,
    VARIANTS,
    Driver,
    Query,
    Runner,
)
from tenantry.db.bootstrap import DatabaseUrls

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
LARGE_TABLE_ROWS = 10_000  # tables at least this big must be read through an index


@dataclass
class BenchConfig:
    rows: int = 1_000_000
    tenants: int = 1_000
    zipf_s: float = 1.0
    iterations: int = 300  # measured rounds; each runs every query on a large and a small tenant
    warmup: int = 15
    # Measured rounds are split into blocks; between blocks every engine gets new
    # connections (new server backends), re-warmed by ``rewarm`` unmeasured rounds (two
    # executions each: psycopg prepares a statement on its 6th, the server may switch to
    # a generic plan after 5 more). The spread of the blocks' medians is reported.
    blocks: int = 10
    rewarm: int = 6
    large: int = 3  # the largest tenants
    small: int = 20  # spread over the bottom half of the ranking
    lookups: int = 64  # booking ids per sampled tenant for point lookups
    trigram: bool = False  # add a pg_trgm GIN index on service_requests.description
    # How each unit runs: ``loop`` as a request's unit (psycopg async in a greenlet on
    # the event loop), ``blocking`` as the CLI and job worker (psycopg's blocking
    # connection). See workload's "Drivers".
    driver: Driver = "loop"
    seed: int = 42
    label: str = "full"


QUICK = {
    "rows": 50_000, "tenants": 200, "iterations": 40, "warmup": 5, "blocks": 4, "label": "quick",
}  # fmt: skip


@dataclass
class BenchResult:
    config: BenchConfig
    dataset: Dataset
    stats: dict[str, dict[str, Stat]]
    plans: list[PlanCheck]
    server: dict[str, str]
    measure_seconds: float
    samples: dict[str, dict[str, list[dict[str, int]]]] = field(repr=False, default_factory=dict)
    rows: RowCheck = field(default_factory=RowCheck)

    @property
    def queries(self) -> tuple[Query, ...]:
        return queries_for(self.config)

    @property
    def violations(self) -> list[str]:
        return [f"{p.query}: {v}" for p in self.plans for v in p.violations]

    @property
    def misses(self) -> list[str]:
        return [q for q, by in self.stats.items() if by["all"].ratio_median > TARGET]


def queries_for(config: BenchConfig) -> tuple[Query, ...]:
    return QUERIES + (TRIGRAM_QUERIES if config.trigram else ())


def _server_facts(urls: DatabaseUrls) -> dict[str, str]:
    engine = create_engine(urls.migrator)
    try:
        with engine.connect() as conn:
            facts = {"version": conn.execute(text("select version()")).scalar_one()}
            for name in (
                "shared_buffers", "work_mem", "random_page_cost", "effective_cache_size",
                "jit", "max_parallel_workers_per_gather",
            ):  # fmt: skip
                facts[name] = conn.execute(text(f"show {name}")).scalar_one()
    finally:
        engine.dispose()
    facts["client"] = f"python {platform.python_version()} on {platform.machine()}"
    facts["cpus"] = str(os.cpu_count())
    return facts


def _driver_facts(runner: Runner) -> str:
    if runner.driver == "loop":
        return f"loop (psycopg async in a greenlet on {runner.loop_name}, as a request's unit)"
    return "blocking (psycopg's blocking connection, as the CLI and job worker)"


def _add_trigram_index(urls: DatabaseUrls) -> None:
    # pg_trgm is a trusted extension: the database owner (the migrator) may create it.
    engine = create_engine(urls.migrator)
    try:
        with engine.begin() as conn:
            conn.execute(text("create extension if not exists pg_trgm"))
            conn.execute(
                text(
                    "create index ix_bench_service_requests_description_trgm"
                    " on service_requests using gin (description gin_trgm_ops)"
                )
            )
            conn.execute(text("analyze service_requests"))
    finally:
        engine.dispose()


def _measure(
    runner: Runner, dataset: Dataset, config: BenchConfig, log: bool
) -> dict[str, dict[str, list[dict[str, int]]]]:
    """Interleave everything: per round, queries in random order, a large and a small
    tenant each, the variants in random order — drift hits all sides alike. Rounds come
    in blocks, each on freshly drawn connections (``Runner.recycle``); every sample
    records its block under ``"block"``."""
    rng = random.Random(config.seed)
    samples: dict[str, dict[str, list[dict[str, int]]]] = {
        q.name: {"large": [], "small": []} for q in queries_for(config)
    }
    classes: dict[str, list[TenantSample]] = {"large": dataset.large, "small": dataset.small}
    blocks = max(1, min(config.blocks, config.iterations))
    started = time.perf_counter()
    rnd = 0
    for block in range(blocks):
        if block:
            runner.recycle()
        warm = config.warmup if block == 0 else config.rewarm
        measured = config.iterations * (block + 1) // blocks - config.iterations * block // blocks
        for step in range(warm + measured):
            queries = list(queries_for(config))
            rng.shuffle(queries)
            for query in queries:
                for kind, tenants in classes.items():
                    tenant = tenants[rng.randrange(len(tenants))]
                    order = list(VARIANTS)
                    rng.shuffle(order)
                    times: dict[str, int] = {v: runner.timed(query, v, tenant, rnd) for v in order}
                    if step >= warm:
                        times["block"] = block
                        samples[query.name][kind].append(times)
            rnd += 1
            if rnd % 20 == 0:
                gc.collect()  # collect between rounds, not inside a timing
        if log:
            print(
                f"  block {block + 1}/{blocks} ({rnd} rounds)  "
                f"{time.perf_counter() - started:6.1f}s",
                flush=True,
            )
    return samples


def _plans(
    runner: Runner, dataset: Dataset, large_tables: set[str], queries: tuple[Query, ...]
) -> list[PlanCheck]:
    tenant = dataset.large[0]
    checks: list[PlanCheck] = []
    for query in queries:
        for variant in ("walls", "off"):
            for statement, params in runner.capture_sql(query, variant, tenant):
                plan_json, lines = runner.explain(variant, tenant, statement, params)
                check = check_plan(query.name, variant, statement, plan_json, lines, large_tables)
                if variant == "off":
                    check.violations = []  # reference only; the tenant queries are checked
                checks.append(check)
    return checks


def run(
    config: BenchConfig,
    *,
    admin: URL | None = None,
    results_dir: Path | None = RESULTS_DIR,
    log: bool = True,
) -> BenchResult:
    say = print if log else (lambda *a, **k: None)
    with bench_database(admin=admin) as urls:
        say(f"database {urls.database}: {config.rows:,} rows over {config.tenants:,} tenants")
        random.seed(config.seed)
        dataset = load(
            urls,
            rows=config.rows,
            tenants=config.tenants,
            zipf_s=config.zipf_s,
            large=config.large,
            small=config.small,
            lookups=config.lookups,
            seed=config.seed,
            log=log,
        )
        if config.trigram:
            _add_trigram_index(urls)
        server = _server_facts(urls)
        config.blocks = max(1, min(config.blocks, config.iterations))
        runner = Runner(urls, config.driver)
        server["driver"] = _driver_facts(runner)
        try:
            say(
                f"measuring {config.iterations} rounds (+{config.warmup} warm-up) in "
                f"{config.blocks} blocks on fresh connections (+{config.rewarm} warm-up each); "
                f"driver: {server['driver']}"
            )
            t0 = time.perf_counter()
            load_before = os.getloadavg()[0]
            samples = _measure(runner, dataset, config, log)
            measure_seconds = time.perf_counter() - t0
            # Other work on the machine shows up as noise (p95) more than as bias:
            # every round interleaves the variants. Recorded so a reader can judge.
            server["loadavg_1min_before_after"] = f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"
            large_tables = {t for t, n in dataset.rows.items() if n >= LARGE_TABLE_ROWS}
            plans = _plans(runner, dataset, large_tables, queries_for(config))
            rows = check_rows(runner, dataset, queries_for(config))
        finally:
            runner.dispose()

    stats = {
        name: {
            "all": summarize(by_kind["large"] + by_kind["small"]),
            "large": summarize(by_kind["large"]),
            "small": summarize(by_kind["small"]),
        }
        for name, by_kind in samples.items()
    }
    result = BenchResult(config, dataset, stats, plans, server, measure_seconds, samples, rows)
    if log:
        _print_result(result)
    if results_dir is not None:
        stem = "isolation_overhead" + ("" if config.label == "full" else f"_{config.label}")
        paths = write_results(results_dir, stem, _payload(result), _markdown(result))
        say("wrote " + ", ".join(str(p) for p in paths))
    return result


def _payload(r: BenchResult) -> dict[str, Any]:
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.isolation_overhead " + " ".join(sys.argv[1:]),
        "config": asdict(r.config),
        "server": r.server,
        "dataset": {
            "tenants": r.dataset.tenants,
            "rows": r.dataset.rows,
            "load_seconds": round(r.dataset.load_seconds, 1),
            "large": [{"rank": t.rank, "rows": t.rows} for t in r.dataset.large],
            "small": [{"rank": t.rank, "rows": t.rows} for t in r.dataset.small],
        },
        "measure_seconds": round(r.measure_seconds, 1),
        "target_median_ratio": TARGET,
        "queries": {q.name: {"table": q.table, "what": q.description} for q in r.queries},
        "stats": {q: {k: asdict(s) for k, s in by.items()} for q, by in r.stats.items()},
        "misses": r.misses,
        "plans": [asdict(p) for p in r.plans],
        "plan_violations": r.violations,
        "row_check": asdict(r.rows),
    }


def _markdown(r: BenchResult) -> str:
    main_rows = sum(r.dataset.rows[t] for t in ("service_requests", "bookings", "invoices"))
    largest = r.dataset.large[0].rows
    head = (
        f"Isolation overhead ({r.config.label}): {r.dataset.tenants:,} tenants, "
        f"{main_rows:,} rows in the main tables (largest tenant: "
        f"{sum(largest.values()):,} rows), {r.config.iterations} rounds; "
        f"{r.server['version'].split(' on ')[0]}, {r.server['cpus']} CPUs, load average "
        f"{r.server['loadavg_1min_before_after']} (before / after); driver: "
        f"{r.server['driver']}.\n"
        "Ratios are per-iteration walls/off (same tenant, same round); target median "
        f"≤ {TARGET:.2f}. Rounds ran in {r.config.blocks} blocks, each on new connections; "
        "'blocks' is the range of the blocks' own medians, 'A/A' the median of aa/off "
        "(off against an identical twin: the run's noise floor).\n\n"
    )
    tail = "\n" + _plan_table(r) + "\n"
    if r.misses:
        tail += f"\nMissed the target: {', '.join(r.misses)}.\n"
    if r.violations:
        tail += f"\nPlan check FAILED: {'; '.join(r.violations)}.\n"
    else:
        tail += "\nPlan check: every tenant query reads large tables through an index.\n"
    if r.rows.problems:
        tail += f"\nRow check FAILED: {'; '.join(r.rows.problems)}.\n"
    else:
        tail += (
            f"\nRow check: in {r.rows.checked} (query, tenant) pairs, walls read exactly the "
            "tenant's rows (the same as the hand-written predicate); without any wall the "
            f"same statements read other tenants' rows too "
            f"({', '.join(r.rows.control_saw_others)}).\n"
        )
    return head + markdown_table(r.stats) + "\n" + tail


def _plan_table(r: BenchResult) -> str:
    """Server-side view on the largest tenant: access path and EXPLAIN ANALYZE times."""
    lines = [
        "Plans on the largest tenant (EXPLAIN ANALYZE, ms; walls / off):\n",
        "| query | access path (walls) | planning | execution |",
        "|---|---|---:|---:|",
    ]
    for q in r.queries:
        walls = [p for p in r.plans if p.query == q.name and p.variant == "walls"]
        off = [p for p in r.plans if p.query == q.name and p.variant == "off"]
        if not walls or not off:
            continue
        access = "; ".join(p.access for p in walls)
        lines.append(
            f"| {q.name} | {access} | {_ms_sum(walls, 'planning_ms')} / "
            f"{_ms_sum(off, 'planning_ms')} | {_ms_sum(walls, 'execution_ms')} / "
            f"{_ms_sum(off, 'execution_ms')} |"
        )
    return "\n".join(lines)


def _ms_sum(plans: list[PlanCheck], attr: str) -> str:
    values = [getattr(p, attr) for p in plans]
    return "-" if None in values else f"{sum(values):.3f}"


def _print_result(r: BenchResult) -> None:
    print("\nEXPLAIN (ANALYZE) of the tenant queries (walls) on the largest tenant "
          f"(rank {r.dataset.large[0].rank}):")  # fmt: skip
    for p in r.plans:
        if p.variant != "walls":
            continue
        verdict = "FAIL: " + "; ".join(p.violations) if p.violations else "ok"
        print(f"\n-- {p.query} [{verdict}]\n   {p.statement.strip()}")
        for line in p.text:
            print("   " + line)
    print("\n" + _markdown(r))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.isolation_overhead",
        description="Measure what the isolation walls cost (see bench/README.md).",
    )
    d = BenchConfig()
    parser.add_argument("--quick", action="store_true", help="smoke size: 50k rows, 200 tenants")
    parser.add_argument("--rows", type=int, help=f"rows in the main tables (default {d.rows:,})")
    parser.add_argument("--tenants", type=int, help=f"number of tenants (default {d.tenants:,})")
    parser.add_argument("--iterations", type=int, help=f"measured rounds (default {d.iterations})")
    parser.add_argument("--zipf", type=float, help=f"size skew exponent (default {d.zipf_s})")
    parser.add_argument(
        "--blocks", type=int, help=f"blocks of rounds on fresh connections (default {d.blocks})"
    )
    parser.add_argument("--trigram", action="store_true", help="add a pg_trgm index on titles")
    parser.add_argument(
        "--driver",
        choices=DRIVERS,
        default=d.driver,
        help="loop: each unit as a request runs it (psycopg async in a greenlet on the event "
        "loop; default); blocking: psycopg's blocking connection (CLI, job worker)",
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--no-results", action="store_true", help="write no result files")
    args = parser.parse_args(argv)

    config = BenchConfig(**QUICK) if args.quick else BenchConfig()  # type: ignore[arg-type]
    for name, value in (
        ("rows", args.rows), ("tenants", args.tenants), ("iterations", args.iterations),
        ("zipf_s", args.zipf), ("blocks", args.blocks),
    ):  # fmt: skip
        if value is not None:
            setattr(config, name, value)
    config.trigram, config.seed, config.driver = args.trigram, args.seed, args.driver
    if args.rows is not None or args.tenants is not None:
        config.label = "custom"
    if args.trigram:
        config.label += "_trigram"
    if config.driver != "loop":
        config.label += f"_{config.driver}"
    result = run(config, results_dir=None if args.no_results else args.results_dir)
    if result.violations:
        print("\nFAIL: a tenant query reads a large table without an index:", file=sys.stderr)
        for v in result.violations:
            print("  " + v, file=sys.stderr)
        return 1
    if result.rows.problems:
        print("\nFAIL: the walls variant read other rows than the tenant's:", file=sys.stderr)
        for problem in result.rows.problems:
            print("  " + problem, file=sys.stderr)
        return 1
    return 0

"""Prometheus metrics (``prometheus-client``), one registry per process.

With several server processes (``tenantry serve --workers N`` or any uvicorn/gunicorn
setup) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before the processes start
(``tenantry serve`` does it for you, in ``<data-dir>/prometheus``): each process then
writes its samples to files there and ``/metrics``, whichever process answers, adds
them up (``MultiProcessCollector``). Gauges are ``livesum``: the sum over live
processes.

Labels stay bounded: ``route`` is the route template (``/api/admin/bookings/{id}``,
never the raw path; ``unmatched`` for 404s outside any route), ``tenant`` comes from
``TenantLabels`` (fixed ceiling) and ``status`` on the histogram is the class (2xx).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "tenantry_http_requests_total",
    "HTTP requests by route template, method, status and tenant.",
    ["route", "method", "status", "tenant"],
)
HTTP_LATENCY = Histogram(
    "tenantry_http_request_duration_seconds",
    "HTTP request latency by route template, method, status class and tenant.",
    ["route", "method", "status", "tenant"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SECURITY_EVENTS = Counter(
    "tenantry_security_events_total",
    "Security events (refusals) by code and by the tenant the caller acts for.",
    ["code", "tenant"],
)
DB_POOL = Gauge(
    "tenantry_db_pool_connections",
    "Database pool connections by pool (app, migrator) and state "
    "(checked_out, idle, overflow, size).",
    ["pool", "state"],
    multiprocess_mode="livesum",
)
JOBS = Counter(
    "tenantry_jobs_total",
    "Background jobs run, by task and outcome (succeeded, failed, refused).",
    ["task", "outcome"],
)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: Path) -> None:
    """Empty ``path`` and point ``PROMETHEUS_MULTIPROC_DIR`` at it, for the processes
    about to start. Stale files of an earlier run would otherwise be added in."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    _switch_value_class()


def _switch_value_class() -> None:
    # prometheus_client picks its value storage when first imported; a process that
    # imported it before the folder was set switches here (every metric above is
    # labelled, so no sample exists before the first ``.labels()``).
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def mark_this_process_dead_at_exit() -> None:
    """Drop this process's live gauges when it exits (uvicorn has no worker hook)."""
    path = multiprocess_dir()
    pid = os.getpid()
    if path and _marked.get(pid) != path:
        _marked[pid] = path
        atexit.register(lambda: multiprocess.mark_process_dead(pid, path))  # type: ignore[no-untyped-call]


_marked: dict[int, str] = {}


def exposition(extra: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """The text exposition of every process's metrics plus ``extra`` collectors."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path:
        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    extra_registry = CollectorRegistry()
    for collector in extra:
        extra_registry.register(collector)
    return body + generate_latest(extra_registry), CONTENT_TYPE_LATEST


def status_class(status: int) -> str:
    return f"{status // 100}xx"


# ---- database pool -------------------------------------------------------------------


def instrument_pool(engine: Engine, name: str) -> None:
    """Keep the pool gauges current on every checkout and checkin (a few mmap writes;
    a scrape can then sum every process's pools, which a collector could not)."""
    pool: Any = engine.pool
    # The four series, looked up once: ``labels()`` takes a lock and builds a key each
    # time, and this runs twice per request.
    checked_out, idle, overflow, size = (
        DB_POOL.labels(name, state) for state in ("checked_out", "idle", "overflow", "size")
    )

    series = (checked_out, idle, overflow, size)
    last: list[float | None] = [None] * len(series)

    def update(*_: Any) -> None:
        try:
            values = (pool.checkedout(), pool.checkedin(), max(0, pool.overflow()), pool.size())
        except AttributeError:  # a pool without these counters (NullPool)
            return
        # Only what changed: a request's checkout and checkin move two of the four.
        for i, value in enumerate(values):
            if value != last[i]:
                last[i] = value
                series[i].set(value)

    if getattr(pool, "_tenantry_instrumented", False):
        return
    pool._tenantry_instrumented = True
    event.listen(pool, "checkout", update)
    event.listen(pool, "checkin", update)
    update()


# ---- job queue -----------------------------------------------------------------------


class JobQueueCollector(Collector):
    """Queue depth by queue and status, read from procrastinate's table at scrape time
    (the queue is shared state; any process can count it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tenantry_job_queue_jobs",
            "Jobs in the queue by queue and status (todo = waiting, doing = running).",
            labels=["queue", "status"],
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "select queue_name, status::text, count(*) from procrastinate_jobs"
                        " where status in ('todo', 'doing') group by 1, 2"
                    )
                ).all()
        except Exception:  # the database is down: the scrape still answers
            rows = []
        seen = {(q, s): n for q, s, n in rows}
        for status in ("todo", "doing"):
            if not any(s == status for _, s in seen):
                seen[("default", status)] = 0
        for (queue, status), count in sorted(seen.items()):
            family.add_metric([queue, status], float(count))
        yield family

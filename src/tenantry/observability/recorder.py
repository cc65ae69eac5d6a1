"""Feeds the operator's security view: buffers in memory, writes in batches.

Security events and per-minute request counts are collected in memory by the request
path (no database work there) and written every ``interval_s`` by one daemon thread
per process, in one transaction. Repeats of one event (same code, tenant label, acting
and targeted tenant, user, address and path) between two writes are kept as the first
one and a count: a tenant hammering a refused route costs a dict look-up per refusal
and one row per write, however fast it sends. The buffer is bounded: past
``max_buffer`` distinct events the oldest unsaved ones are dropped (and counted in the
metrics anyway). Each write also prunes rows older than the retention and keeps at
most ``max_rows`` rows, so the tables stay small whatever happens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from tenantry.observability.models import OpsSecurityEvent, OpsTraffic
from tenantry.observability.security import SecurityEvent

_log = structlog.get_logger("tenantry.observability")

LabelOf = Callable[[SecurityEvent], str]
# What makes two events "the same" for the operator view (time and request id aside).
_Repeat = tuple[str, str, object, object, object, str | None, str | None]


_insert_traffic = insert(OpsTraffic)
# A minute's requests and errors of one tenant label, added to what is already there.
_ADD_TRAFFIC = _insert_traffic.on_conflict_do_update(
    index_elements=["minute", "tenant_label"],
    set_={
        "requests": OpsTraffic.requests + _insert_traffic.excluded.requests,
        "errors": OpsTraffic.errors + _insert_traffic.excluded.errors,
    },
)


def _repeat_key(event: SecurityEvent, label: str) -> _Repeat:
    return (
        event.code,
        label,
        event.tenant_id,
        event.target_tenant_id,
        event.user_id,
        event.client,
        event.path,
    )


class _Pending:
    """The first of a run of identical events, and how many there were."""

    __slots__ = ("count", "event", "label")

    def __init__(self, event: SecurityEvent, label: str) -> None:
        self.event = event
        self.label = label
        self.count = 1


class Recorder:
    def __init__(
        self,
        engine: Engine,
        *,
        retention: timedelta = timedelta(days=7),
        max_rows: int = 100_000,
        interval_s: float = 2.0,
        max_buffer: int = 10_000,
    ) -> None:
        self.engine = engine
        self.retention = retention
        self.max_rows = max_rows
        self.interval_s = interval_s
        self.max_buffer = max_buffer
        self._events: dict[_Repeat, _Pending] = {}
        # (minute as whole minutes since the epoch, tenant label) -> [requests, errors]
        self._traffic: dict[tuple[int, str], list[int]] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ---- the request path: memory only ---------------------------------------------

    def add_event(self, event: SecurityEvent, label: str) -> None:
        key = _repeat_key(event, label)
        with self._lock:
            pending = self._events.get(key)
            if pending is not None:
                pending.count += 1
            else:
                if len(self._events) >= self.max_buffer:
                    del self._events[next(iter(self._events))]  # the oldest unsaved
                self._events[key] = _Pending(event, label)
        self._ensure_thread()

    def count_request(self, label: str, *, error: bool) -> None:
        minute = int(time.time()) // 60  # a datetime only when written (every request)
        with self._lock:
            counts = self._traffic.setdefault((minute, label), [0, 0])
            counts[0] += 1
            counts[1] += int(error)
        self._ensure_thread()

    # ---- the writer ----------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="tenantry-ops-recorder", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except Exception as exc:  # the database is away: try again next round
                _log.warning("ops_recorder_flush_failed", error=exc.__class__.__name__)

    def stop(self, *, timeout_s: float = 10.0) -> None:
        """End the writer and write what it had not yet: called when a server stops, so
        the last ``interval_s`` of events is not lost with the thread. A later event
        starts a new writer (tests share one app across clients)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        try:
            self.flush()
        except Exception as exc:  # the database is away: nothing more to do at shutdown
            _log.warning("ops_recorder_final_flush_failed", error=exc.__class__.__name__)

    def flush(self) -> None:
        """Write what is buffered (the operator page calls it, so it shows the latest)."""
        with self._flush_lock:
            with self._lock:
                events = list(self._events.values())
                self._events = {}
                traffic = self._traffic
                self._traffic = {}
            if not events and not traffic:
                return
            with self.engine.begin() as conn:
                if events:
                    conn.execute(
                        insert(OpsSecurityEvent),
                        [
                            {
                                "occurred_at": p.event.occurred_at,
                                "code": p.event.code,
                                "actor_tenant_id": p.event.tenant_id,
                                "tenant_label": p.label,
                                "target_tenant_id": p.event.target_tenant_id,
                                "user_id": p.event.user_id,
                                "client": p.event.client,
                                "request_id": p.event.request_id,
                                "path": p.event.path,
                                "count": p.count,
                            }
                            for p in events
                        ],
                    )
                if traffic:
                    # One statement for every label (keys are unique within a flush, so
                    # no row is touched twice): built per label, a flush cost the worker
                    # ~10 ms of CPU under the GIL its event loop needs.
                    conn.execute(
                        _ADD_TRAFFIC,
                        [
                            {
                                "minute": datetime.fromtimestamp(minute * 60, UTC),
                                "tenant_label": label,
                                "requests": n,
                                "errors": e,
                            }
                            for (minute, label), (n, e) in sorted(traffic.items())
                        ],
                    )
                self._prune(conn)

    def _prune(self, conn: Connection) -> None:
        cutoff = datetime.now(UTC) - self.retention
        conn.execute(delete(OpsSecurityEvent).where(OpsSecurityEvent.occurred_at < cutoff))
        conn.execute(delete(OpsTraffic).where(OpsTraffic.minute < cutoff))
        newest = conn.scalar(select(func.max(OpsSecurityEvent.id)))
        if newest is not None and newest > self.max_rows:
            oldest_kept = newest - self.max_rows
            conn.execute(delete(OpsSecurityEvent).where(OpsSecurityEvent.id <= oldest_kept))

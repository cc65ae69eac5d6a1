"""``tenantry legacy ...`` and ``tenantry db apply-sql``: the commands, in journey order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as Bars,
)
from rich.table import Table
from rich.text import Text

from tenantry.cli_options import DataDir
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.errors import DatabaseUnavailable

JOURNEY = """From a legacy database (tenant_id NULL or missing, single-column keys, no RLS) to
Tenantry's isolated schema, online. The commands, in order:

\b
  1. tenantry legacy init-demo --rows N     (optional) a demo database in the legacy shape
  2. tenantry legacy report-nulls            NULL tenant_ids per table, how many derivable
  3. tenantry legacy backfill --dry-run      what the backfill would change
  4. tenantry legacy backfill --orphans quarantine|assign:<slug>
                                             derive every tenant from its relations
  5. tenantry legacy restore-quarantine      (if needed) put quarantined rows back
  6. tenantry legacy tighten                 NOT NULL, keys, indexes, RLS, policies,
                                             grants, Alembic stamp; then the audit
  7. tenantry audit schema                   the isolation rules, checked again
  tenantry legacy status [--json]            where the journey stands, at any time

Deploy app code that writes tenant_id on every new row before step 4. The legacy shape
and the derivation rules are in docs/legacy.md."""

legacy_app = typer.Typer(help=JOURNEY, no_args_is_help=True, rich_markup_mode=None)
db_app = typer.Typer(help="Database utilities.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DatabaseName = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="TENANTRY_DATABASE_NAME",
        help="Database to work on (default: the settings' database).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _jobs(help_text: str) -> Any:
    """``--jobs``: how many connections work side by side (each command says on what)."""
    return typer.Option("--jobs", min=1, max=16, help=help_text)


def _urls(data_dir: Path | None, database: str | None) -> DatabaseUrls:
    from tenantry.db.runtime import prepare_database
    from tenantry.settings import get_settings

    settings = get_settings()
    update: dict[str, Any] = {}
    if data_dir is not None:
        update["data_dir"] = data_dir
    if database is not None:
        update["database_name"] = database
    if update:
        settings = settings.model_copy(update=update)
    return prepare_database(settings, migrate=False)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _context(data_dir: Path | None, database: str | None) -> Any:
    from tenantry.legacy.context import LegacyError, load

    try:
        return load(_urls(data_dir, database))
    except LegacyError as exc:
        _fail(str(exc))
    except DatabaseUnavailable as exc:
        _fail(f"cannot reach the database: {exc}", 2)


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:>9,.0f} rows/s" if speed else "        - rows/s")


@legacy_app.command("init-demo")
def init_demo_command(
    rows: Annotated[int, typer.Option("--rows", help="About how many business rows.")] = 20_000,
    data_dir: DataDir = None,
    database: DatabaseName = None,
) -> None:
    """Step 1 (optional): build a demo database in the legacy shape, with N related rows.

    Tenantry's tables with tenant_id nullable (absent on chat_messages), single-column
    keys, global uniques, no RLS; ~40% of the rows without a tenant (derivable through one
    or two relations), true orphans and conflicts. Refuses a database that has tables.
    """
    from tenantry.legacy.context import LegacyError
    from tenantry.legacy.demo import init_demo

    try:
        urls = _urls(data_dir, database)
        sizes = init_demo(urls, rows, note=lambda text: console.print(text, markup=False))
    except LegacyError as exc:
        _fail(str(exc))
    except DatabaseUnavailable as exc:
        _fail(f"cannot reach the database: {exc}", 2)
    console.print(
        f"legacy database {urls.database}: {sizes.tenants} tenants, about {rows:,} "
        "rows. Next: tenantry legacy report-nulls",
        markup=False,
    )


@legacy_app.command("report-nulls")
def report_nulls_command(
    as_json: AsJson = False, data_dir: DataDir = None, database: DatabaseName = None
) -> None:
    """Step 2: per table, rows with NULL tenant_id and how many of them are derivable.

    Derivable counts follow the backfill's rules through parents that are NULL too (the
    decision is simulated parents first; nothing is written). Orphans have no relation
    that gives a tenant; conflicts have relations that disagree. Exit 0.
    """
    from tenantry.legacy.report import simulate

    ctx = _context(data_dir, database)
    if ctx.shape.fatal:
        _fail("\n  - ".join(["not in the legacy shape (docs/legacy.md):", *ctx.shape.fatal]))
    reports = simulate(ctx)
    if as_json:
        typer.echo(
            json.dumps(
                {"database": ctx.urls.database, "tables": [r.as_dict() for r in reports]}, indent=2
            )
        )
        return
    table = Table(
        "table",
        "rows",
        "NULL tenant",
        "derivable",
        "orphans",
        "conflicts",
        title=f"NULL tenant_id in {ctx.urls.database}",
    )
    for r in reports:
        note = " (no column)" if r.column_missing else ""
        table.add_row(
            r.table + note,
            f"{r.rows:,}",
            f"{r.null:,}",
            f"{r.derivable:,}",
            f"{r.orphans:,}",
            f"{r.conflicts:,}",
        )
    console.print(table)


@legacy_app.command("backfill")
def backfill_command(
    table: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            help="Only this table (repeatable). Default: every tenant table, parents first.",
        ),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            min=1,
            max=100_000,
            help="NULL rows per batch, about (one short transaction each).",
        ),
    ] = 5000,
    jobs: Annotated[
        int,
        _jobs(
            "Connections working side by side: slices of a big table's pages, and "
            "tables whose parents are done."
        ),
    ] = 2,
    pause_ms: Annotated[
        int,
        typer.Option(
            "--pause-ms",
            min=0,
            max=60_000,
            help="Sleep after each batch, leaving the database to the app (throttle).",
        ),
    ] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    orphans: Annotated[
        str | None,
        typer.Option(
            "--orphans",
            help="What to do with orphans "
            "and conflicts: 'assign:<tenant slug>' or 'quarantine'. Default: report "
            "them only (tighten then refuses).",
        ),
    ] = None,
    data_dir: DataDir = None,
    database: DatabaseName = None,
) -> None:
    """Step 4: derive every NULL tenant_id from its relations, in resumable batches.

    Parents first (services, requests, bookings, ...); each table is swept once in
    physical order, in batches of pages (--jobs connections: slices of a big table, and
    tables whose parents are done, side by side),
    each batch decided and written in its own short transaction with its checkpoint, so a
    killed run resumes where it stopped and a rerun changes nothing.
    A row whose relations disagree is a conflict, never a guess; conflicts and orphans are
    reported, assigned to a tenant, or quarantined (never deleted). Ends with a per-table
    account: rows that were NULL = backfilled + assigned + quarantined + left.
    """
    from tenantry.legacy.backfill import Backfill, Progress, parse_policy
    from tenantry.legacy.context import LegacyError

    ctx = _context(data_dir, database)
    try:
        policy = parse_policy(orphans)
        if dry_run:
            _dry_run(ctx, table, policy)
            return
        with Bars(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RowsPerSecond(),
            TimeRemainingColumn(),
            console=console,
        ) as bars:
            tasks: dict[str, Any] = {}

            def start(name: str, total: int, done: int) -> None:
                tasks[name] = bars.add_task(name, total=max(total, done, 1), completed=done)

            def advance(name: str, rows: int) -> None:
                bars.advance(tasks[name], rows)

            progress = Progress(start, advance, lambda text: bars.console.print(text, markup=False))
            accounts = Backfill(
                ctx, policy, batch_size, progress, jobs=jobs, pause=pause_ms / 1000
            ).run(table)
    except LegacyError as exc:
        _fail(str(exc))
    _print_accounts(accounts)
    if not all(a.adds_up for a in accounts):
        _fail("the account does not add up (see above); run tenantry legacy status")
    left = sum(a.left for a in accounts)
    if left:
        console.print(
            f"{left:,} orphan/conflict rows are left (policy: report). Rerun with "
            "--orphans quarantine or --orphans assign:<slug>.",
            markup=False,
        )
    else:
        console.print("next: tenantry legacy tighten", markup=False)


def _dry_run(ctx: Any, tables: list[str] | None, policy: Any) -> None:
    from tenantry.legacy.backfill import _tenant_id
    from tenantry.legacy.connect import connect
    from tenantry.legacy.report import simulate

    assign = None
    if policy.kind == "assign":
        with connect(ctx.urls.migrator) as conn:
            assign = _tenant_id(conn, policy.slug)
    ctx.require_shape()
    out = Table(
        "table",
        "NULL tenant",
        "would backfill",
        "would assign",
        "orphans",
        "conflicts",
        title=f"backfill --dry-run, --orphans {policy}",
    )
    for r in simulate(ctx, ctx.select(tables), assign_tenant=assign):
        out.add_row(
            r.table,
            f"{r.null:,}",
            f"{r.derivable:,}",
            f"{r.would_assign:,}",
            f"{r.orphans:,}",
            f"{r.conflicts:,}",
        )
    console.print(out)
    console.print("nothing was changed", markup=False)


def _print_accounts(accounts: list[Any]) -> None:
    out = Table(
        "table",
        "NULL",
        "backfilled",
        "assigned",
        "quarantined",
        "left",
        "ok",
        "+parent",
        "+members",
        title="account: NULL = backfilled + assigned + "
        "quarantined + left (+parent: rows with a tenant moved with their parent)",
    )
    for a in accounts:
        out.add_row(
            a.table,
            f"{a.null_at_start:,}",
            f"{a.backfilled:,}",
            f"{a.assigned:,}",
            f"{a.quarantined:,}",
            f"{a.left:,}",
            "yes" if a.adds_up else "NO",
            f"{a.moved_with_parent:,}",
            f"{a.memberships_created:,}",
        )
    console.print(out)


@legacy_app.command("restore-quarantine")
def restore_command(
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Only this table (repeatable).")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            help="Slug of the tenant to give "
            "rows that have none (needed after tighten made tenant_id NOT NULL).",
        ),
    ] = None,
    data_dir: DataDir = None,
    database: DatabaseName = None,
) -> None:
    """Step 5 (if needed): put quarantined rows back into their tables, parents first.

    All or nothing, in one transaction. Before tighten, rows come back without a tenant:
    fix their relations and run backfill again. After tighten, give --tenant.
    """
    from tenantry.legacy.backfill import _tenant_id
    from tenantry.legacy.connect import connect
    from tenantry.legacy.quarantine import RestoreError, restore

    ctx = _context(data_dir, database)
    with connect(ctx.urls.migrator) as conn:
        try:
            tenant_id = _tenant_id(conn, tenant) if tenant else None
            restored = restore(conn, ctx.select(table), tables=table, tenant_id=tenant_id)
        except RestoreError as exc:
            _fail(f"nothing was restored: {exc}")
        except Exception as exc:  # LegacyError from _tenant_id / select
            _fail(str(exc))
    for name, count in restored.items():
        console.print(f"{name}: {count:,} rows restored", markup=False)
    if not restored:
        console.print("the quarantine is empty", markup=False)


@legacy_app.command("tighten")
def tighten_command(
    lock_timeout_ms: Annotated[
        int,
        typer.Option(
            "--lock-timeout-ms",
            min=10,
            max=10_000,
            help="How long one DDL statement may wait for its lock before it gives up and retries.",
        ),
    ] = 200,
    jobs: Annotated[
        int,
        _jobs(
            "Connections building indexes and validating constraints of different "
            "tables side by side."
        ),
    ] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the steps only.")] = False,
    data_dir: DataDir = None,
    database: DatabaseName = None,
) -> None:
    """Step 6: bring the schema to exactly what tenantry migrate creates, without long locks.

    The target is read from a scratch database migrated to Alembic's head (so new
    migrations are followed). Refuses, printing the counts, while any tenant_id is NULL.
    Then: CHECK NOT NULL NOT VALID -> VALIDATE -> SET NOT NULL; CREATE INDEX CONCURRENTLY;
    keys and uniques USING INDEX; foreign keys NOT VALID -> VALIDATE; RLS enabled and
    forced with the strict policies; grants; Alembic stamped at head; then the schema
    audit. Each statement runs under a short lock_timeout and retries; each step is
    idempotent, so an interrupted tighten is simply run again.
    """
    from tenantry.legacy.context import LegacyError
    from tenantry.legacy.journey import plan, run_tighten
    from tenantry.legacy.tighten import TightenError

    ctx = _context(data_dir, database)
    if dry_run:
        try:
            ctx.require_shape()
        except LegacyError as exc:
            _fail(str(exc))
        for step in plan(ctx):
            console.print(f"[{step.phase}] {step.what}", markup=False)
        return
    try:
        result = run_tighten(
            ctx,
            lock_timeout_ms=lock_timeout_ms,
            jobs=jobs,
            on_step=lambda step, i, n: console.print(
                f"{i:>4}/{n} [{step.phase}] {step.what}", markup=False
            ),
            on_retry=lambda step, attempt: console.print(
                f"       lock busy, retry {attempt}: {step.what}", markup=False
            ),
        )
    except (LegacyError, TightenError) as exc:
        _fail(str(exc))
    if result.left_over:
        _fail(
            "the schema still differs from the target after tighten:\n  "
            + "\n  ".join(s.what for s in result.left_over)
        )
    if result.findings:
        from tenantry.audit import format_table

        console.print(format_table(result.findings), markup=False)
        _fail("tenantry audit schema has findings after tighten (above)")
    console.print(
        f"tightened in {len(result.steps)} steps ({result.retries} lock retries); "
        f"stamped at {ctx.head}; tenantry audit schema: clean",
        markup=False,
    )


@legacy_app.command("status")
def status_command(
    as_json: AsJson = False, data_dir: DataDir = None, database: DatabaseName = None
) -> None:
    """At any time: per table NULLs left, rows done, checkpoint, conflicts, quarantined,
    and which tighten phases are done (JSON for monitoring with --json)."""
    from tenantry.legacy.status import read_status

    try:
        status = read_status(_urls(data_dir, database))
    except DatabaseUnavailable as exc:
        _fail(f"cannot reach the database: {exc}", 2)
    if as_json:
        typer.echo(json.dumps(status.as_dict(), indent=2, default=str))
        return
    out = Table(
        "table",
        "NULLs left",
        "done / NULL at start",
        "checkpoint",
        "orphans",
        "conflicts",
        "quarantined",
        title=f"legacy journey of {status.database}",
    )
    for t in status.tables:
        left = "no column" if t.nulls_left is None else f"{t.nulls_left:,}"
        where = "done" if t.done else (t.checkpoint or "-")
        out.add_row(
            t.table,
            left,
            f"{t.rows_done:,} / {t.null_at_start:,}",
            where,
            f"{t.orphans:,}",
            f"{t.conflicts:,}",
            f"{t.quarantined:,}",
        )
    console.print(out)
    if status.reference_cached:
        phases = ", ".join(
            f"{p} {v['pending']} pending" for p, v in status.tighten.items() if v["pending"]
        )
        console.print(
            f"tighten: {'complete' if status.tighten_complete else phases or 'stamp pending'}"
            f"; alembic at {status.stamped or '-'} (head {status.head})",
            markup=False,
        )
    else:
        console.print(
            "tighten: not planned yet (backfill or tighten builds the target)", markup=False
        )
    for problem in status.shape_problems:
        console.print(f"! {problem}", markup=False)


@db_app.command("apply-sql")
def apply_sql_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="The SQL file to apply."),
    ],
    data_dir: DataDir = None,
    database: DatabaseName = None,
) -> None:
    """Apply one hand-written SQL file in ONE transaction, as the migrator role.

    Statements are found by PostgreSQL's own parser (dollar-quoted bodies, strings and
    comments are handled); a syntax error is reported with its line before anything runs;
    a failing statement is reported with its number, line and text, and nothing is kept.
    """
    from tenantry.legacy.connect import connect
    from tenantry.legacy.sqlfile import SqlFileError, apply_file

    source = file.read_text()
    try:
        urls = _urls(data_dir, database)
        with connect(urls.migrator) as conn:
            done = apply_file(conn, source)
    except SqlFileError as exc:
        _fail(f"{file}: {exc}")
    except DatabaseUnavailable as exc:
        _fail(f"cannot reach the database: {exc}", 2)
    console.print(f"{file}: {len(done)} statements applied in one transaction", markup=False)

"""``tenantry tenant ...``: the tenant lifecycle from the command line.

Every command takes ``--data-dir`` and honours ``DATABASE_URL`` like every database
command, and works while a server runs on the same data folder (the embedded
PostgreSQL is shared; lifecycle work runs as the migrator in an audited system
scope). Events go to the platform audit log (``tenantry audit log``) and to the
structured log on stderr, so stdout stays the command's own output.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tenantry.cli_options import DataDir
from tenantry.db.engine import Database
from tenantry.errors import DatabaseUnavailable, TenantryError
from tenantry.settings import Settings

tenant_app = typer.Typer(help="Create, suspend, export, purge and restore tenants (audited).")
console = Console()
err = Console(stderr=True)
_T = TypeVar("_T")

Reason = Annotated[
    str, typer.Option("--reason", help="Why (at least 8 characters); kept in the audit log.")
]


def open_db(data_dir: Path | None) -> tuple[Settings, Database]:
    from tenantry.db.runtime import open_database
    from tenantry.ops.common import load_settings

    settings = load_settings(data_dir)
    # Structured events on stderr: stdout is the command's report (or its --json).
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.stderr))
    try:
        return settings, open_database(settings)
    except DatabaseUnavailable as exc:
        err.print(f"error: cannot reach the database: {exc}")
        raise typer.Exit(2) from exc


@contextlib.contextmanager
def failures() -> Iterator[None]:
    """Domain errors become one ``error:`` line and exit 1."""
    try:
        yield
    except TenantryError as exc:
        err.print(f"error: {exc.detail}", markup=False)
        raise typer.Exit(1) from exc


@contextlib.contextmanager
def progress_bar() -> Iterator[Any]:
    from tenantry.tenants.export import Progress as Callbacks

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,  # the report that follows says what was done
    ) as bar:
        task: list[Any] = []

        def start(total: int, what: str) -> None:
            if task:
                bar.update(task[0], completed=bar.tasks[0].total)
            task[:] = [bar.add_task(what, total=total)]

        def advance(n: int) -> None:
            if task:
                bar.advance(task[0], n)

        yield Callbacks(start=start, advance=advance)


def _actor() -> Any:
    from tenantry.tenants.audit_log import Actor

    return Actor.command_line()


def _audited(data_dir: Path | None, work: Callable[..., _T], **args: Any) -> _T:
    """Run ``work`` (an audited operation) on the database with the command line as its
    actor; a domain error exits 1."""
    _, db = open_db(data_dir)
    try:
        with failures():
            return work(db, actor=_actor(), **args)
    finally:
        db.dispose()


def _with_archive(data_dir: Path | None, work: Callable[..., _T], **args: Any) -> _T:
    """Run an export, purge or restore (``work``) on the database with the upload
    folder, the command line as its actor and a progress bar; a domain error exits 1."""
    settings, db = open_db(data_dir)
    try:
        with failures(), progress_bar() as progress:
            return work(
                db, upload_dir=settings.upload_dir, actor=_actor(), progress=progress, **args
            )
    finally:
        db.dispose()


@tenant_app.command("create")
def create_command(
    slug: Annotated[str, typer.Option("--slug", help="DNS label: <slug>.<base-domain>.")],
    name: Annotated[str, typer.Option("--name", help="The business's name.")],
    owner_email: Annotated[str, typer.Option("--owner-email", help="The owner's email.")],
    owner_name: Annotated[str, typer.Option("--owner-name", help="For a new account.")] = "",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--owner-password-stdin",
            help="Read the password of a NEW owner account from stdin (you hand it over; "
            "nothing is shown). Without it, or when the address has an account, the owner "
            "is mailed an invitation link instead.",
        ),
    ] = False,
    reason: Annotated[str, typer.Option("--reason", help="Kept in the audit log.")] = (
        "tenant created from the command line"
    ),
    data_dir: DataDir = None,
) -> None:
    """Provision a tenant in one transaction: the tenant, its settings, default role
    permissions, and its owner — mailed an invitation link (no password is generated
    or shown), or with --owner-password-stdin a new account made at once. Slugs are
    case-folded DNS labels, not reserved words and not look-alikes of a taken slug."""
    from tenantry.tenants.lifecycle import create_tenant

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    created = _audited(
        data_dir,
        create_tenant,
        slug=slug,
        name=name,
        owner_email=owner_email,
        owner_name=owner_name,
        owner_password=password or None,
        reason=reason,
    )
    t = created.tenant
    console.print(f"created tenant {t.slug} ({t.name}), id {t.id}", markup=False)
    invitation = created.owner_invitation
    if invitation is not None:
        console.print(
            f"owner: {invitation.email} invited (link mailed, valid until "
            f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC; sent by the worker, "
            f"`tenantry worker` or `tenantry serve`)",
            markup=False,
        )
    else:
        console.print(f"owner: {owner_email.strip().lower()} (new account)", markup=False)


@tenant_app.command("suspend")
def suspend_command(slug: str, reason: Reason, data_dir: DataDir = None) -> None:
    """Suspend a tenant: its members get 403 tenant_suspended on every request and its
    public pages answer 403 until it is reactivated."""
    from tenantry.tenants.lifecycle import suspend_tenant

    ref = _audited(data_dir, suspend_tenant, slug=slug, reason=reason)
    console.print(f"suspended tenant {ref.slug}", markup=False)


@tenant_app.command("reactivate")
def reactivate_command(slug: str, reason: Reason, data_dir: DataDir = None) -> None:
    """Reactivate a suspended tenant."""
    from tenantry.tenants.lifecycle import reactivate_tenant

    ref = _audited(data_dir, reactivate_tenant, slug=slug, reason=reason)
    console.print(f"reactivated tenant {ref.slug}", markup=False)


@tenant_app.command("export")
def export_command(
    slug: str,
    output: Annotated[Path, typer.Option("-o", "--output", help="The archive to write (.zip).")],
    reason: Annotated[str, typer.Option("--reason", help="Kept in the audit log.")] = (
        "tenant export from the command line"
    ),
    data_dir: DataDir = None,
) -> None:
    """Write every row of every tenant table (NDJSON per table), the tenant's files and
    a manifest of row counts and SHA-256 checksums into one zip archive. Streamed: memory
    stays flat whatever the tenant's size. Consistent while the tenant keeps working."""
    from tenantry.tenants.export import export_tenant

    manifest = _with_archive(data_dir, export_tenant, slug=slug, out=output, reason=reason)
    table = Table("table", "rows", "sha256", title=f"export of {manifest.tenant['slug']}")
    for entry in manifest.tables:
        table.add_row(entry.name, str(entry.rows), entry.sha256[:16])
    console.print(table)
    console.print(
        f"{manifest.total_rows} rows in {len(manifest.tables)} tables, "
        f"{len(manifest.files)} files -> {output}",
        markup=False,
    )


@tenant_app.command("purge")
def purge_command(
    slug: str,
    confirm: Annotated[str, typer.Option("--confirm", help="The slug again, to confirm.")],
    reason: Annotated[str, typer.Option("--reason", help="Kept in the audit log.")] = (
        "tenant purge from the command line"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Delete the tenant's rows in every tenant table and its files, then verify: zero
    rows and no files left, other tenants' counts and checksums shown before and after.
    Interrupted, the same command resumes. Irreversible: export first."""
    from tenantry.tenants.purge import ConfirmationMismatch, purge_tenant

    if confirm.strip().lower() != slug.strip().lower():
        err.print(f"error: {ConfirmationMismatch.message}", markup=False)
        raise typer.Exit(1)
    report = _with_archive(data_dir, purge_tenant, slug=slug, confirm=confirm, reason=reason)
    if as_json:
        console.print_json(json.dumps(report.as_dict() | {"others_before": report.others_before}))
        return
    table = Table(
        "table", "deleted", "left", "others' rows", "others' checksum", "others unchanged",
        title=f"purge of {report.slug}" + (" (resumed)" if report.resumed else ""),
    )  # fmt: skip
    for name, left in report.remaining.items():
        before, after = report.others_before.get(name), report.others_after.get(name)
        table.add_row(
            name,
            str(report.deleted.get(name, 0)),
            str(left),
            str(after[0]) if after else "-",
            str(after[1])[-12:] if after else "-",
            "yes" if before == after else "NO",
        )
    console.print(table)
    console.print(
        f"verified: 0 rows left in {len(report.remaining)} tenant tables, "
        f"{report.files_deleted} files deleted, 0 left, {report.jobs_deleted} queued jobs "
        f"deleted; other tenants unchanged: {'yes' if report.others_unchanged else 'NO'}",
        markup=False,
    )


@tenant_app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="An archive written by tenant export.")],
    as_slug: Annotated[
        str | None, typer.Option("--as-slug", help="Restore under another slug (a copy).")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Kept in the audit log.")] = (
        "tenant restore from the command line"
    ),
    data_dir: DataDir = None,
) -> None:
    """Load an export into this database (fresh ids where the old ones are taken) and
    verify every table's count and SHA-256 against the manifest before committing. A
    corrupted or truncated archive is refused with the reason; nothing is half-loaded."""
    from tenantry.tenants.restore import restore_tenant

    report = _with_archive(
        data_dir, restore_tenant, archive_path=archive, as_slug=as_slug, reason=reason
    )
    fresh = " (fresh tenant id)" if report.fresh_tenant_id else ""
    console.print(
        f"restored tenant {report.slug}, id {report.tenant_id}{fresh}: "
        f"{sum(report.rows.values())} rows in {len(report.rows)} tables, {report.files} files; "
        f"accounts reused {report.users_reused}, created {report.users_created}; "
        "counts and checksums verified against the manifest",
        markup=False,
    )


@tenant_app.command("list")
def list_command(
    reason: Reason,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per tenant.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Every tenant with its status and size. Operator access: needs a reason, audited."""
    from tenantry.operator.service import list_tenants

    settings, db = open_db(data_dir)
    with failures():
        items = list_tenants(db, actor=_actor(), reason=reason, upload_dir=settings.upload_dir)
    db.dispose()
    if as_json:
        for item in items:
            typer.echo(item.model_dump_json())
        return
    table = Table("slug", "name", "status", "rows", "files", "created (UTC)")
    for t in items:
        table.add_row(t.slug, t.name, t.status, str(t.rows), str(t.files), str(t.created_at)[:19])
    console.print(table)


@tenant_app.command("show")
def show_command(
    slug: str,
    reason: Reason,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Print this table's rows (JSON lines).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    data_dir: DataDir = None,
) -> None:
    """A tenant's row count per table, or (with --table) its rows, for support.
    Operator access: needs a reason, audited."""
    from tenantry.operator.service import read_rows, tenant_detail

    settings, db = open_db(data_dir)
    with failures():
        if table_name:
            rows = read_rows(
                db, slug=slug, table=table_name, actor=_actor(), reason=reason,
                limit=limit, offset=offset,
            )  # fmt: skip
            for row in rows:
                typer.echo(json.dumps(row, sort_keys=True))
        else:
            summary, counts = tenant_detail(
                db, slug=slug, actor=_actor(), reason=reason, upload_dir=settings.upload_dir
            )
            out = Table("table", "rows", title=f"{summary.slug} ({summary.status})")
            for c in counts:
                out.add_row(c.table, str(c.rows))
            console.print(out)
            console.print(f"{summary.rows} rows, {summary.files} files", markup=False)
    db.dispose()


operator_app = typer.Typer(help="Platform operators (superadmins) of the operator API.")


@operator_app.command("grant")
def grant_command(email: str, reason: Reason, data_dir: DataDir = None) -> None:
    """Make an existing account a platform operator (audited)."""
    _set_operator(email, reason, data_dir, grant=True)


@operator_app.command("revoke")
def revoke_command(email: str, reason: Reason, data_dir: DataDir = None) -> None:
    """Take the operator role away (effective on the operator's next request)."""
    _set_operator(email, reason, data_dir, grant=False)


def _set_operator(email: str, reason: str, data_dir: Path | None, *, grant: bool) -> None:
    from tenantry.tenants.lifecycle import set_operator

    _audited(data_dir, set_operator, email=email, grant=grant, reason=reason)
    console.print(f"{email}: operator {'granted' if grant else 'revoked'}", markup=False)


@tenant_app.command("member-role")
def member_role_command(
    slug: str,
    email: str,
    role: Annotated[str, typer.Argument(help="owner, admin, staff or client.")],
    reason: Reason,
    data_dir: DataDir = None,
) -> None:
    """Change a member's role (audited; in force from the member's next request). A
    tenant keeps at least one owner."""
    _change_member(slug, reason, data_dir, email=email, role=role)


@tenant_app.command("member-remove")
def member_remove_command(slug: str, email: str, reason: Reason, data_dir: DataDir = None) -> None:
    """Remove a member (audited; refused from the member's next request on). The row is
    kept, status removed, so records that name the member stay valid."""
    _change_member(slug, reason, data_dir, email=email, remove=True)


def _change_member(
    slug: str, reason: str, data_dir: Path | None, *, email: str, role: str | None = None,
    remove: bool = False,
) -> None:  # fmt: skip
    from tenantry.tenants.members import change_member

    change = _audited(
        data_dir, change_member, slug=slug, email=email, role=role, remove=remove, reason=reason
    )
    console.print(
        f"{change.email} in {change.slug}: {change.before} -> {change.after}", markup=False
    )


def audit_log_command(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only entries about this tenant's slug.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (tenant.suspended, ...).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Newest N entries.", min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show the platform audit log, newest first: lifecycle events and every
    cross-tenant operator access (who, which tenant, what, when, why). Append-only:
    the app role cannot change or delete an entry."""
    from tenantry.tenants.audit_log import entries

    _, db = open_db(data_dir)
    with db.session() as session:
        rows = entries(session, slug=tenant, action=action, limit=limit)
        out = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "tenant": e.target_slug,
                "tenant_id": str(e.target_tenant_id) if e.target_tenant_id else None,
                "reason": e.reason,
                "details": e.details,
            }
            for e in rows
        ]
    db.dispose()
    if as_json:
        for entry in out:
            typer.echo(json.dumps(entry, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "when (UTC)", "actor", "action", "tenant", "reason")
    for entry in out:
        table.add_row(
            str(entry["id"]),
            str(entry["at"])[:19].replace("T", " "),
            str(entry["actor"]),
            str(entry["action"]),
            str(entry["tenant"] or "-"),
            str(entry["reason"]),
        )
    Console().print(table)

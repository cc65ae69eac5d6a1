"""``tenantry audit schema [--json]``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated

import typer
from sqlalchemy import create_engine

from tenantry.audit.finding import Finding
from tenantry.audit.privileges import PRIVILEGE_RULES, auth_findings
from tenantry.audit.run import audit_schema
from tenantry.cli_options import DataDir

audit_app = typer.Typer(help="Audit the live database against the isolation rules.")


@audit_app.callback()
def _audit_group() -> None:
    """Audit the live database against the isolation rules."""
    # A callback keeps ``audit`` a command group even while it has one command, so
    # ``tenantry audit schema`` keeps its shape when more audits are added.


def format_table(findings: Sequence[Finding]) -> str:
    header = ("TABLE", "RULE", "DETAIL")
    rows = [header, *((f.table, f.rule, f.detail) for f in findings)]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in rows)


@audit_app.command("schema")
def schema_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False,
    citus: Annotated[
        bool,
        typer.Option(
            "--citus",
            help="Also check the rules Citus imposes on distributed and reference tables "
            "(before `tenantry citus distribute`).",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Check every table in schema public; exit 1 on any finding.

    Reads the database named by the settings (``DATABASE_URL`` or the embedded server
    in the data folder) as the migrator. Nothing is migrated.
    """
    from tenantry.db.runtime import prepare_database
    from tenantry.errors import DatabaseUnavailable
    from tenantry.settings import get_settings

    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    notes: list[str] = []
    try:
        urls = prepare_database(settings, migrate=False)
        engine = create_engine(urls.migrator)
        admin = create_engine(urls.admin.set(database=urls.database))
        try:
            findings = audit_schema(engine)
            if citus:
                from tenantry.audit.citus import citus_findings

                findings = sorted([*findings, *citus_findings(engine)])
            with admin.connect() as conn:
                auth = auth_findings(conn, urls.roles)
        finally:
            engine.dispose()
            admin.dispose()
    except DatabaseUnavailable as exc:
        typer.echo(f"error: cannot reach the database: {exc}", err=True)
        raise typer.Exit(2) from exc
    if auth is None:
        notes.append(
            "role_password_unchecked not checked: the admin connection cannot read "
            "pg_hba_file_rules"
        )
    else:
        findings = sorted([*findings, *auth])
    notes.append("privilege rules: " + ", ".join(PRIVILEGE_RULES))

    if as_json:
        typer.echo(
            json.dumps(
                {
                    "database": urls.database,
                    "ok": not findings,
                    "findings": [asdict(f) for f in findings],
                    "notes": notes,
                },
                indent=2,
            )
        )
    elif findings:
        typer.echo(format_table(findings))
        typer.echo(f"\n{len(findings)} finding(s) in database {urls.database}")
    else:
        extra = " (with the Citus rules)" if citus else ""
        typer.echo(f"schema audit of database {urls.database}{extra}: clean")
    if not as_json:
        for note in notes:
            typer.echo(f"note: {note}")
    raise typer.Exit(1 if findings else 0)

"""``tenantry citus distribute``: see ``tenantry.ops.citus`` and docs/scaling.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import create_engine

from tenantry.audit.cli import format_table

citus_app = typer.Typer(help="Run Tenantry on a Citus cluster (see docs/scaling.md).")


@citus_app.callback()
def _citus_group() -> None:
    """Run Tenantry on a Citus cluster (see docs/scaling.md)."""


@citus_app.command("distribute")
def distribute_command(
    shard_count: Annotated[
        int, typer.Option(help="Shards per distributed table (one colocation group).")
    ] = 32,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder of the secrets (and an embedded database, which cannot be Citus). "
            "Default .tenantry.",
            envvar="TENANTRY_DATA_DIR",
        ),
    ] = None,
) -> None:
    """Migrate, then make the database on the Citus coordinator (DATABASE_URL, a
    superuser) distributed: tenant tables by tenant_id, tenants and users as reference
    tables. Idempotent: run it again after a migration that adds a table."""
    from tenantry.db.runtime import prepare_database
    from tenantry.errors import DatabaseUnavailable
    from tenantry.ops.citus import CitusError, distribute
    from tenantry.settings import get_settings

    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    if not settings.database_url:
        typer.echo("error: set DATABASE_URL to the Citus coordinator (a superuser)", err=True)
        raise typer.Exit(2)
    try:
        urls = prepare_database(settings)
    except DatabaseUnavailable as exc:
        typer.echo(f"error: cannot reach the database: {exc}", err=True)
        raise typer.Exit(2) from exc
    engine = create_engine(urls.admin.set(database=urls.database))
    try:
        with engine.connect() as conn:
            result = distribute(
                conn, app_role=urls.app_role, shard_count=shard_count, say=typer.echo
            )
    except CitusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    if result.findings:
        typer.echo(format_table(result.findings))
        typer.echo(f"\nnot distributed: {len(result.findings)} Citus finding(s) to fix first")
        raise typer.Exit(1)
    typer.echo(
        f"database {urls.database}: {len(result.distributed)} table(s) distributed, "
        f"{len(result.reference)} reference table(s), {len(result.skipped)} already held by "
        f"Citus, {len(result.local)} local to the coordinator"
    )

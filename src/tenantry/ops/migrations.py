"""``tenantry migration current|history|upgrade|downgrade``: look at and move the schema.

For rollbacks (docs/runbook.md). Every revision has a tested downgrade
(tests/integration/test_migration_roundtrip.py walks them all down and up again on a
database with data). A downgrade drops what its revision added — with its data — so
take a backup first (pg_dump) when the revision added tables you care about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenantry.cli_options import DataDir
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.errors import DatabaseUnavailable

migration_app = typer.Typer(help="Show, roll back or roll forward the database schema.")


def _urls(data_dir: Path | None) -> DatabaseUrls:
    from tenantry.db.runtime import prepare_database
    from tenantry.ops.common import load_settings

    try:
        return prepare_database(load_settings(data_dir), migrate=False)
    except DatabaseUnavailable as exc:
        typer.echo(f"error: cannot reach the database: {exc}", err=True)
        raise typer.Exit(2) from exc


@migration_app.command("current")
def current_command(data_dir: DataDir = None) -> None:
    """Print the revision the database is at."""
    from tenantry.db.migrate import current_revision

    typer.echo(current_revision(_urls(data_dir)) or "(none: not migrated)")


@migration_app.command("history")
def history_command() -> None:
    """List every revision, oldest first."""
    from tenantry.db.migrate import revisions

    for revision, down, title in revisions():
        typer.echo(f"{revision}  (after {down or 'base'})  {title}")


@migration_app.command("downgrade")
def downgrade_command(
    revision: Annotated[
        str, typer.Argument(help="Target: a revision id, 'previous' (one step back) or 'base'.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Roll the schema back to REVISION (what later revisions added is dropped)."""
    from tenantry.db.migrate import current_revision, downgrade

    urls = _urls(data_dir)
    # "previous" rather than alembic's "-1", which a command line takes for an option.
    downgrade(urls, "-1" if revision == "previous" else revision)
    typer.echo(f"database {urls.database} is at {current_revision(urls) or 'base'}")


@migration_app.command("upgrade")
def upgrade_command(
    revision: Annotated[str, typer.Argument(help="Target: a revision id or head.")] = "head",
    data_dir: DataDir = None,
) -> None:
    """Roll the schema forward to REVISION (default: the latest)."""
    from tenantry.db.migrate import current_revision, upgrade

    urls = _urls(data_dir)
    upgrade(urls, revision)
    typer.echo(f"database {urls.database} is at {current_revision(urls)}")

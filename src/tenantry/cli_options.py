"""Command-line options that every command group (ops, audit, legacy) shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of the embedded database (<dir>/pg), secrets and uploads. Default "
        ".tenantry. Ignored for the database when DATABASE_URL is set.",
        envvar="TENANTRY_DATA_DIR",
    ),
]

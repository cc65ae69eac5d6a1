"""What every command shares: settings from the options and environment, one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from tenantry.settings import ProductionSettingMissing, Settings, get_settings, set_settings


def load_settings(data_dir: Path | None, *, loads_demo: bool = False) -> Settings:
    """The process's settings (``--data-dir`` wins over the environment), installed
    process-wide with logging configured. In production mode a missing setting ends
    the command here, with one line naming it."""
    from tenantry.observability.logging import configure_logging

    settings = Settings(data_dir=data_dir) if data_dir else get_settings()
    try:
        settings.check_production(loads_demo=loads_demo)
    except ProductionSettingMissing as exc:
        fail(str(exc))
    set_settings(settings)
    configure_logging(json_output=settings.json_logs, level=settings.effective_log_level)
    return settings


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)

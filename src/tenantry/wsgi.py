"""ASGI entry point for server processes: ``uvicorn tenantry.wsgi:app_from_env --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from tenantry.app import create_app
from tenantry.db.runtime import open_database
from tenantry.observability.logging import configure_logging
from tenantry.settings import get_settings


def app_from_env() -> FastAPI:
    settings = get_settings()
    configure_logging(json_output=settings.json_logs, level=settings.effective_log_level)
    # The parent process migrated already; workers only connect.
    db = open_database(settings, migrate=False)
    return create_app(settings, db)

"""ASGI entry point for server processes: ``uvicorn tenantry.wsgi:app_from_env --factory``."""

from __future__ import annotations

import gc

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
    app = create_app(settings, db)
    keep_startup_objects_out_of_collections()
    return app


def keep_startup_objects_out_of_collections() -> None:
    """The app's routes, models and schemas (~250,000 objects) live as long as the
    worker. Left in the collector's oldest generation, every full collection walks them
    all and stops the worker for tens of milliseconds, which lands on whichever
    requests are in flight (bench/noisy_neighbour: one such pause per worker every half
    minute or so). Frozen, a full collection walks only what requests have added."""
    gc.collect()
    gc.freeze()

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
    collect_young_objects_less_often()
    return app


def keep_startup_objects_out_of_collections() -> None:
    """The app's routes, models and schemas (~250,000 objects) live as long as the
    worker. Left in the collector's oldest generation, every full collection walks them
    all and stops the worker for tens of milliseconds, which lands on whichever
    requests are in flight (bench/noisy_neighbour: one such pause per worker every half
    minute or so). Frozen, a full collection walks only what requests have added."""
    gc.collect()
    gc.freeze()


# The young generation's threshold: 10x Python's 700. See below.
YOUNG_GENERATION_THRESHOLD = 10_000


def collect_young_objects_less_often() -> None:
    """The collector's young generation is examined whenever 700 more container objects
    were allocated than freed (Python's default). A request in flight holds more than
    that (its scope, coroutines, dependencies, session, ORM rows, models), and eight are
    in flight under load, so at 700 the collector ran every few requests and walked
    objects that reference counting frees a moment later anyway: **0.10 ms of CPU per
    read and 0.18 ms per list** in a served worker (bench/README.md, session 11, a
    ``gc.callbacks`` probe). At 10,000 it runs only once that many objects outlived
    their request (caches, cyclic garbage), which in the same runs was never within a
    4-second run. The older generations keep their defaults (each still runs after ten
    collections of the one below), so cyclic garbage is still freed; the young
    generation holds at most ~10,000 more objects (a few MB) before it is."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)

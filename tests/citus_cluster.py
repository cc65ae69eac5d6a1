"""A two-node Citus cluster on this machine: Debian's PostgreSQL 15 with Citus preloaded,
two ``initdb`` folders (coordinator and worker), each on a loopback port.

PostgreSQL refuses to run as root: under root the servers run as ``postgres`` (the user
Debian's postgresql-common creates). Citus is built into PostgreSQL 15 by
``shared/vendor/citus/build-citus.sh`` (``.ci/run`` runs it); without it the tests that
need a cluster are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import URL

PG_BIN = Path("/usr/lib/postgresql/15/bin")
CITUS_LIB = Path("/usr/lib/postgresql/15/lib/citus.so")
CITUS_CONTROL = Path("/usr/share/postgresql/15/extension/citus.control")


def citus_missing() -> str | None:
    """Why a cluster cannot start here, or None."""
    if not (PG_BIN / "postgres").exists():
        return "PostgreSQL 15 server binaries are not installed (apt-get install postgresql-15)"
    if not (CITUS_LIB.exists() and CITUS_CONTROL.exists()):
        return "Citus is not built into PostgreSQL 15 (run shared/vendor/citus/build-citus.sh)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
    return None


@dataclass(frozen=True)
class Node:
    name: str
    port: int
    folder: Path

    def admin_url(self, database: str = "postgres") -> URL:
        return URL.create(
            "postgresql+psycopg", username="postgres", host="127.0.0.1", port=self.port,
            database=database,
        )  # fmt: skip

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True
        )


@dataclass(frozen=True)
class Cluster:
    coordinator: Node
    worker: Node


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as(user: str | None, cmd: list[str], home: Path) -> None:
    # HOME: the servers' libpq (Citus connects node to node) reads ~/.postgresql; root's
    # home is not theirs to read.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8"}
    result = subprocess.run(
        cmd, user=user, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stdout}{result.stderr}")


@contextlib.contextmanager
def citus_cluster() -> Iterator[Cluster]:
    user = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="tenantry-citus-"))
    base.chmod(0o755)
    nodes: list[Node] = []
    try:
        for name in ("coordinator", "worker"):
            folder = base / name
            folder.mkdir()
            if user is not None:
                shutil.chown(folder, user, user)
            node = Node(name, _free_port(), folder)
            _run_as(user, [str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-U",
                           "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"],
                    folder)  # fmt: skip
            with (folder / "data" / "postgresql.conf").open("a") as conf:
                conf.write(
                    "shared_preload_libraries = 'citus'\n"
                    f"port = {node.port}\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{folder}'\n"
                    "max_connections = 200\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "shared_buffers = 64MB\n"
                    # node to node over loopback: no TLS (the servers have no certificate)
                    "citus.node_conninfo = 'sslmode=disable'\n"
                )
            _run_as(user, [str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-l",
                           str(folder / "server.log"), "-w", "-t", "60", "start"],
                    folder)  # fmt: skip
            nodes.append(node)
        yield Cluster(nodes[0], nodes[1])
    finally:
        for node in nodes:
            with contextlib.suppress(RuntimeError):
                _run_as(user, [str(PG_BIN / "pg_ctl"), "-D", str(node.folder / "data"),
                               "-m", "immediate", "-w", "stop"], node.folder)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def server_log(node: Node) -> str:
    path = node.folder / "server.log"
    return path.read_text()[-4000:] if path.exists() else ""

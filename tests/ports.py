"""Ports without races: every server a test starts listens on a socket the test bound
itself (port 0) and handed over, so no other process on this shared machine can take the
port between choosing it and listening on it — never a number that was free a moment ago.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def bound_socket(*, inheritable: bool = False) -> socket.socket:
    """A TCP socket bound to 127.0.0.1 on a port the kernel picked, not yet listening."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(inheritable)
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A port nothing listens on, for as long as the block runs: bound here and never
    listened on, so a connection to it is refused and no other process can take it."""
    with bound_socket() as sock:
        yield port_of(sock)


@contextlib.contextmanager
def uvicorn_thread(app: Any, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread on a socket bound here; yield
    its URL (``config``: more ``uvicorn.Config`` options, e.g. proxy headers)."""
    sock = bound_socket()
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "off", **config}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="test-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port_of(sock)}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

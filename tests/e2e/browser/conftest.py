"""One served app and one Chromium for every browser test of this package.

Package scope, not session: Playwright's sync API keeps an event loop running in the
main thread while the browser is open, and later tests that call ``asyncio.run``
(jobs, reminders, the concurrency test) must not find it still running.

Chromium comes from the system (``/usr/bin/chromium``; ``.ci/run`` installs it with
apt-get); ``playwright install`` is never used. Without Chromium or Playwright the
browser tests fail in CI (``CI=true``) and are skipped elsewhere.

Screenshots land in ``build/screenshots/<test module>/<name>.png``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.ports import bound_socket, port_of

CHROMIUM = Path(os.environ.get("TENANTRY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Tenant hosts (<slug>.localhost) resolve to this machine, as browsers do anyway.
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None  # type: ignore[assignment]


@dataclass
class LiveServer:
    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def host_url(self, host: str) -> str:
        """The same server under another host name (``acme.localhost``)."""
        return f"http://{host}:{self.port}"


def serve(app: Any) -> LiveServer:
    """The app behind uvicorn on a socket bound here and handed over: the port is ours
    from the start, never one that was free a moment ago (tests/ports.py)."""
    sock = bound_socket()
    port = port_of(sock)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", port, server, thread, sock)


@pytest.fixture(scope="package")
def live(app: Any) -> Iterator[LiveServer]:
    server = serve(app)
    yield server
    server.stop()


@pytest.fixture(scope="package")
def live_url(live: LiveServer) -> str:
    return live.url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        unavailable(
            f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` "
            "(never `playwright install`)"
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser: Browser, base_url: str, **options: Any) -> Page:
    viewport = options.pop("viewport", {"width": 1280, "height": 860})
    context = browser.new_context(base_url=base_url, viewport=viewport, **options)
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    p = new_page(browser, live_url)
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    p.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Callable[..., Path]:
    folder = SCREENSHOTS / request.node.module.__name__.rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"^test_", "", request.node.name)[:60]

    def _shoot(p: Page, name: str, *, full: bool = True) -> Path:
        path = folder / f"{test}--{name}.png"
        p.screenshot(path=str(path), full_page=full)
        print(f"screenshot: {path}")
        return path

    return _shoot

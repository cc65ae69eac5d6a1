"""Two server processes share one tenant budget through a real Redis.

The test starts its own ``redis-server`` (Debian's package; ``.ci/run`` installs it)
on a Unix socket in the test's folder (no TCP port to race for) and ``uvicorn --workers 2``
on a socket the test bound and hands over, with ``TENANTRY_RATE_LIMIT_URL`` pointing at
redis. One tenant sends twice its budget over fresh connections, so both workers serve
it; exactly the budget is let through in total, by both processes together.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tenantry.auth.dependencies import CurrentTenant
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.routing import tenant_router
from tenantry.settings import Settings
from tests.factories import PASSWORD, make_tenant
from tests.helpers import TEST_KEYS
from tests.ports import bound_socket, port_of

BUDGET = 30


def server_app() -> FastAPI:
    """uvicorn factory: the real app plus a route that names the serving process."""
    from tenantry.wsgi import app_from_env

    app = app_from_env()
    router = tenant_router(prefix="/api/e2e", tags=["e2e (test only)"])

    @router.get("/pid")
    def pid(ctx: CurrentTenant) -> dict[str, int]:
        return {"pid": os.getpid()}

    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is missing: apt-get install -y redis-server"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("redis")
    path = folder / "redis.sock"  # a Unix socket: no TCP port to race for
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(path), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(0.5)
                probe.connect(str(path))
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield f"redis+unix://{path}?db=0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(
    settings: Settings, database_urls: DatabaseUrls, redis_url: str, tmp_path_factory: Any
) -> Iterator[str]:
    sock = bound_socket(inheritable=True)  # handed to uvicorn (--fd): no port race
    log = tmp_path_factory.mktemp("quota-server") / "stdout.jsonl"
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        "DATABASE_URL": database_urls.admin.render_as_string(hide_password=False),
        "TENANTRY_DATA_DIR": str(settings.data_dir),
        "TENANTRY_DATABASE_NAME": settings.database_name,
        "TENANTRY_SECRET_KEYS": TEST_KEYS,
        "TENANTRY_LOGIN_ATTEMPTS_PER_ADDRESS": "10000/minute",
        "TENANTRY_TENANT_RATE_LIMIT": f"{BUDGET}/minute",
        "TENANTRY_RATE_LIMIT_URL": redis_url,
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "tests.e2e.test_quotas_redis:server_app", "--factory",
        "--workers", "2", "--fd", str(sock.fileno()),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port_of(sock)}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()


@pytest.mark.slow
def test_two_workers_share_one_tenant_budget_through_redis(server: str, db: Database) -> None:
    tenant = make_tenant(db, roles=("owner",))
    with httpx.Client(base_url=server) as c:
        r = c.post("/api/auth/login", json={"email": tenant["owner"].email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookies = dict(c.cookies)

    def one(_: int) -> tuple[int, int | None]:
        # A fresh connection each time, so the kernel hands requests to both workers.
        with httpx.Client(base_url=server, cookies=cookies, timeout=20) as fresh:
            r = fresh.get("/api/e2e/pid")
            return r.status_code, r.json().get("pid") if r.status_code == 200 else None

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(one, range(BUDGET * 2)))
    ok = [pid for status, pid in results if status == 200]
    refused = [status for status, _ in results if status == 429]
    assert len(ok) == BUDGET, results
    assert len(refused) == BUDGET, results
    assert len(set(ok)) == 2, f"one worker served everything: {set(ok)}"

"""Two server processes share one tenant budget through a real Redis.

The test starts its own ``redis-server`` (Debian's package; ``.ci/run`` installs it)
on a Unix socket in the test's folder (no TCP port to race for) and two uvicorn server
processes, each on a socket the test bound and hands over, with ``TENANTRY_RATE_LIMIT_URL``
pointing at redis. One tenant sends twice its budget, alternating between the two (two
processes the test can address, rather than ``--workers 2`` behind one socket, where a
busy machine may let one worker accept every connection); exactly the budget is let
through in total, half by each process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
def servers(
    settings: Settings, database_urls: DatabaseUrls, redis_url: str, tmp_path_factory: Any
) -> Iterator[list[str]]:
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
    root = Path(__file__).resolve().parents[2]
    started: list[tuple[subprocess.Popen[bytes], socket.socket, Path, str]] = []
    try:
        for n in range(2):
            sock = bound_socket(inheritable=True)  # handed to uvicorn (--fd): no port race
            log = tmp_path_factory.mktemp(f"quota-server-{n}") / "stdout.jsonl"
            cmd = [
                sys.executable, "-m", "uvicorn", "tests.e2e.test_quotas_redis:server_app",
                "--factory", "--fd", str(sock.fileno()), "--no-access-log",
                "--log-level", "warning",
            ]  # fmt: skip
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                    pass_fds=(sock.fileno(),),
                )  # fmt: skip
            started.append((proc, sock, log, f"http://127.0.0.1:{port_of(sock)}"))
        for proc, _, log, base in started:
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
        yield [base for *_, base in started]
    finally:
        for proc, sock, _, _ in started:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            sock.close()


@pytest.mark.slow
def test_two_workers_share_one_tenant_budget_through_redis(
    servers: list[str], db: Database
) -> None:
    tenant = make_tenant(db, roles=("owner",))
    with httpx.Client(base_url=servers[0]) as c:
        r = c.post("/api/auth/login", json={"email": tenant["owner"].email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        cookies = dict(c.cookies)

    clients = [httpx.Client(base_url=base, cookies=cookies, timeout=20) for base in servers]
    try:
        results = []
        for n in range(BUDGET * 2):
            r = clients[n % 2].get("/api/e2e/pid")
            results.append((n % 2, r.status_code, r.json().get("pid") if r.is_success else None))
    finally:
        for c in clients:
            c.close()
    ok = [(server, pid) for server, status, pid in results if status == 200]
    refused = [server for server, status, _ in results if status == 429]
    assert len(ok) == BUDGET, results  # the budget, in total — not per process
    assert len(refused) == BUDGET, results
    assert {server for server, _ in ok} == {0, 1}, results  # both processes served it
    assert len({pid for _, pid in ok}) == 2, results
    assert set(refused) == {0, 1}, results  # and both refuse once it is spent


def storage_calls(redis_url: str) -> int:
    """Lua scripts the redis-server has run so far: every read or count of a moving
    window is one (``limits`` runs each as a script; a first call the server refuses
    with NOSCRIPT, then loaded and retried, counts once)."""
    import redis

    with redis.Redis.from_url(redis_url.removeprefix("redis+")) as r:  # limits' scheme
        stats = r.info("commandstats")
    return sum(
        int(v["calls"]) - int(v.get("failed_calls", 0))
        for k, v in stats.items()
        if k in ("cmdstat_evalsha", "cmdstat_eval")
    )


def test_with_shared_counters_a_tenant_never_refused_costs_one_storage_call_a_request(
    settings: Settings, db: Database, redis_url: str
) -> None:
    """The early read of the budget (before authentication) is a network round trip on
    shared storage: it is only asked for a tenant or user this process saw spent
    lately. Every other request costs one call, the count after authentication — and
    the budget still holds: a suspect's surplus is refused before database work."""
    from fastapi.testclient import TestClient

    from tenantry.app import create_app
    from tests.helpers import login

    app = create_app(
        settings.model_copy(update={"tenant_rate_limit": "3/second", "rate_limit_url": redis_url}),
        db,
    )
    tenant = make_tenant(db, roles=("owner",))
    with TestClient(app) as client:
        login(client, tenant["owner"])
        before = storage_calls(redis_url)
        assert client.get("/api/tenant/current").status_code == 200
        assert client.get("/api/tenant/current").status_code == 200
        assert storage_calls(redis_url) - before == 2  # the counts alone, no early reads
        assert [client.get("/api/tenant/current").status_code for _ in range(3)] == [200, 429, 429]
        time.sleep(1.2)  # the window frees its requests; the gate forgets the budget
        before = storage_calls(redis_url)
        assert client.get("/api/tenant/current").status_code == 200
        # now a suspect: the early read (refusal before database work) and the count
        assert storage_calls(redis_url) - before == 2

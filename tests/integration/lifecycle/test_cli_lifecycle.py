"""The lifecycle commands as written, as subprocesses with --data-dir, while a server
runs on the same data folder and database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TENANTRY = [sys.executable, "-m", "tenantry.ops.cli"]
PASSWORD = "cli-owner-password-1"


def _env(settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_DATABASE_NAME=settings.database_name,
        TENANTRY_SECRET_KEYS=settings.secret_keys,
        TENANTRY_LOG_JSON="true",
    )
    return env


def run(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*TENANTRY, *args, "--data-dir", str(settings.data_dir)],
        env=_env(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def server(settings, database_urls, tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    log = tmp_path_factory.mktemp("cli-server") / "out.log"
    # Port 0: the server binds, holds and prints its port (no race with other servers).
    cmd = [*TENANTRY, "serve", "--no-demo", "--no-job-worker", "--port", "0",
           "--data-dir", str(settings.data_dir)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=_env(settings), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = ""
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            if not base:
                found = re.search(r"serving on (http://\S+)", log.read_text())
                base = found.group(1) if found else ""
            try:
                if base and httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_lifecycle_commands_work_as_written_beside_a_running_server(settings, server, tmp_path):
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    email = f"owner-{uuid.uuid4().hex[:8]}@example.test"
    out = _ok(
        run(settings, "tenant", "create", "--slug", slug.upper(), "--name", "Cli Cleaning Co",
            "--owner-email", email, "--owner-password-stdin", stdin=PASSWORD + "\n")
    )  # fmt: skip
    assert f"created tenant {slug}" in out

    web = httpx.Client(base_url=server, timeout=30)
    login = web.post("/api/auth/login", json={"email": email, "password": PASSWORD, "tenant": slug})
    assert login.status_code == 200, login.text
    made = web.post(
        "/api/admin/services",
        json={"slug": "deep-clean", "name": "Deep clean", "price_cents": 9900,
              "duration_minutes": 120},
    )  # fmt: skip
    assert made.status_code == 201, made.text

    _ok(run(settings, "tenant", "suspend", slug, "--reason", "chargeback under review"))
    refused = web.get("/api/tenant/current")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tenant_suspended"
    _ok(run(settings, "tenant", "reactivate", slug, "--reason", "chargeback resolved"))
    assert web.get("/api/tenant/current").status_code == 200

    archive = tmp_path / f"{slug}.zip"
    out = _ok(run(settings, "tenant", "export", slug, "-o", str(archive)))
    assert archive.is_file() and "rows in" in out

    out = _ok(run(settings, "tenant", "purge", slug, "--confirm", slug))
    assert "verified: 0 rows left" in out and "other tenants unchanged: yes" in out
    assert web.get("/api/tenant/current").status_code == 403

    out = _ok(run(settings, "tenant", "restore", str(archive)))
    assert f"restored tenant {slug}" in out and "verified" in out
    assert web.get("/api/tenant/current").status_code == 200  # the same session again
    services = web.get("/api/admin/services").json()
    assert [s["slug"] for s in services["items"]] == ["deep-clean"]

    log = _ok(run(settings, "audit", "log", "--tenant", slug, "--json", "--limit", "20"))
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [e["action"] for e in reversed(entries)] == [
        "tenant.created", "tenant.suspended", "tenant.reactivated", "tenant.exported",
        "tenant.purge_started", "tenant.purged", "tenant.restored",
    ]  # fmt: skip
    assert all(e["actor"].startswith("cli:") for e in entries)

    last_owner = run(settings, "tenant", "member-role", slug, email, "client", "--reason",
                     "demote the only owner")  # fmt: skip
    assert last_owner.returncode == 1 and "at least one owner" in last_owner.stderr

    wrong = run(settings, "tenant", "purge", slug, "--confirm", "not-the-slug")
    assert wrong.returncode == 1 and wrong.stderr.strip().startswith("error: ")
    assert "Traceback" not in wrong.stderr
    web.close()


def test_a_missing_reason_is_refused_before_anything_happens(settings):
    result = run(settings, "tenant", "suspend", "whatever", "--reason", "no")
    assert result.returncode == 1 and "reason" in result.stderr
    assert Path(settings.data_dir).is_dir()

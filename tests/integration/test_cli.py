"""The command line against the real database: errors, reuse of the running server, demo data."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from tenantry.auth.models import User
from tenantry.db.tenant import Tenant

TENANTRY = [sys.executable, "-m", "tenantry.ops.cli"]


def _env(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_DATA_DIR=str(settings.data_dir),
        TENANTRY_DATABASE_NAME=settings.database_name,
        TENANTRY_SECRET_KEYS=settings.secret_keys,
        TENANTRY_LOG_JSON="true",
    )
    env.update(extra)
    return env


def test_an_unreachable_database_is_one_clear_line_and_a_nonzero_exit(settings, tmp_path):
    env = _env(
        settings,
        DATABASE_URL="postgresql://nobody:pw@127.0.0.1:1/nowhere",
        TENANTRY_DATA_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [*TENANTRY, "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database:"), lines
    assert "Traceback" not in result.stderr


def test_migrate_and_demo_data_reuse_the_running_server_and_are_idempotent(settings, db):
    env = _env(settings)
    for _ in range(2):
        migrate = subprocess.run(
            [*TENANTRY, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        assert migrate.returncode == 0, migrate.stderr
        assert "latest revision" in migrate.stdout
    demo = subprocess.run(
        [*TENANTRY, "demo-data"], env=env, capture_output=True, text=True, timeout=300
    )
    assert demo.returncode == 0, demo.stderr
    assert "consultant@demo.test" in demo.stdout
    again = subprocess.run(
        [*TENANTRY, "demo-data"], env=env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    with db.system_session(reason="test: inspect demo data") as s:
        slugs = set(s.scalars(select(Tenant.slug).where(Tenant.slug.in_(["acme", "globex"]))))
        consultants = s.scalars(select(User).where(User.email == "consultant@demo.test")).all()
    assert slugs == {"acme", "globex"}
    assert len(consultants) == 1
    # The test session's own connections still work: the CLI joined the running
    # embedded server instead of starting (or stopping) another.
    db.check()


def test_help_lists_every_command():
    result = subprocess.run([*TENANTRY, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "migrate", "demo-data"):
        assert command in result.stdout

"""Every command in docs/runbook.md runs, as written, and succeeds.

Each fenced ``bash`` block is run with ``bash -euo pipefail`` against a real server
(the app on the test database, with a metrics token and a platform operator) and, for
the ``tenantry`` commands, a scratch database (migrations go down and up there).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tenantry.app import create_app
from tenantry.auth.models import User
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.settings import Settings
from tests.e2e.browser.conftest import serve
from tests.factories import PASSWORD, make_user
from tests.helpers import TEST_KEYS
from tests.scratch import scratch_database

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
TOKEN = "runbook-metrics-token"


def bash_blocks(text: str) -> list[str]:
    blocks = re.findall(r"^ *```bash\n(.*?)^ *```", text, flags=re.S | re.M)
    return [re.sub(r"^ {0,4}", "", b, flags=re.M) for b in blocks]


@pytest.fixture(scope="module")
def runbook_env(
    settings: Settings, db: Database, database_urls: DatabaseUrls
) -> Iterator[dict[str, str]]:
    operator = make_user(db)
    with db.system_session(reason="test: runbook operator") as s:
        s.execute(update(User).where(User.id == operator.user_id).values(is_superadmin=True))
    live = serve(create_app(settings.model_copy(update={"metrics_token": TOKEN}), db))
    with scratch_database(settings, database_urls) as scratch:
        upgrade(scratch)
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "TENANTRY_URL": live.url,
            "TENANTRY_METRICS_TOKEN": TOKEN,
            "OPERATOR_EMAIL": operator.email,
            "OPERATOR_PASSWORD": PASSWORD,
            "DATABASE_URL": database_urls.admin.render_as_string(hide_password=False),
            "TENANTRY_DATABASE_NAME": scratch.database,
            "TENANTRY_DATA_DIR": str(settings.data_dir),
            "TENANTRY_SECRET_KEYS": TEST_KEYS,
        }
        try:
            yield env
        finally:
            live.stop()


def test_the_runbook_has_commands_for_each_procedure() -> None:
    blocks = bash_blocks(RUNBOOK.read_text())
    commands = "\n".join(blocks)
    for needed in (
        "TENANTRY_GUARD_MODE=log",
        'code="guard_(logged|refused)"',
        "tenantry migration downgrade",
        "tenantry migration upgrade",
        "/api/ops/security",
        "tenantry audit schema",
    ):
        assert needed in commands, needed


@pytest.mark.parametrize("index", range(len(bash_blocks(RUNBOOK.read_text()))))
def test_runbook_block_runs(index: int, runbook_env: dict[str, str], tmp_path: Any) -> None:
    block = bash_blocks(RUNBOOK.read_text())[index]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        env=runbook_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    if "/api/ops/security" in block:
        assert '"recent"' in done.stdout
    if "tenantry migration downgrade previous" in block:
        assert "is at" in done.stdout and "error" not in done.stderr.lower()

"""A newcomer's first minute: `tenantry --version`, and what `tenantry serve` prints
before it serves (the URL to open and the demo accounts, in plain words)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tenantry import __version__
from tenantry.ops.cli import app, banner
from tenantry.settings import Settings


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"tenantry {__version__}"


def test_the_banner_says_where_to_go_and_how_to_sign_in(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, log_json=False)
    text = banner(settings, host="0.0.0.0", port=9123, demo=True)
    assert "Open the app      http://127.0.0.1:9123/" in text
    assert "http://127.0.0.1:9123/docs" in text
    assert "http://acme.localhost:9123/" in text
    assert "Demo accounts (password tenantry-demo)" in text
    assert "owner@acme.test" in text and "consultant@demo.test" in text
    assert "TENANTRY_LOG_JSON=true" in text
    assert "{" not in text  # plain words, no JSON


def test_a_chosen_demo_password_is_never_printed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, demo_password="s3cret-chosen", log_json=True)
    text = banner(settings, host="127.0.0.1", port=8000, demo=True)
    assert "s3cret-chosen" not in text and "TENANTRY_DEMO_PASSWORD" in text
    assert "JSON log lines follow" in text
    assert "Demo accounts" not in banner(settings, host="127.0.0.1", port=8000, demo=False)


def test_json_logs_on_a_pipe_and_quiet_plain_logs_on_a_terminal(tmp_path: Path) -> None:
    explicit = Settings(data_dir=tmp_path, log_json=True)
    assert explicit.json_logs and explicit.effective_log_level == "INFO"
    plain = Settings(data_dir=tmp_path, log_json=False)
    assert not plain.json_logs and plain.effective_log_level == "WARNING"
    chatty = Settings(data_dir=tmp_path, log_json=False, log_level="DEBUG")
    assert chatty.effective_log_level == "DEBUG"
    # Under pytest stdout is captured (not a terminal): auto means JSON.
    assert Settings(data_dir=tmp_path).json_logs

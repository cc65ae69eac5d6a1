"""TENANTRY_ENV=production refuses to start with generated secrets, cookies without
Secure, or demo accounts on the documented password — one line naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenantry.ops.cli import app
from tenantry.settings import DEMO_PASSWORD, ProductionSettingMissing, Settings

READY = {
    "env": "production",
    "secret_keys": "k" * 40,
    "payments_webhook_secret": "w" * 40,
    "av_callback_secret": "a" * 40,
    "https": True,
    "demo_password": "not-the-demo-one",
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"secret_keys": None}, "TENANTRY_SECRET_KEYS"),
        ({"payments_webhook_secret": None}, "TENANTRY_PAYMENTS_WEBHOOK_SECRET"),
        ({"av_callback_secret": None}, "TENANTRY_AV_CALLBACK_SECRET"),
        ({"https": False}, "TENANTRY_HTTPS"),
        ({"demo_password": DEMO_PASSWORD}, "TENANTRY_DEMO_PASSWORD"),
    ],
)
def test_production_refuses_what_development_allows(
    tmp_path: Path, change: dict[str, object], named: str
) -> None:
    settings = Settings(data_dir=tmp_path, **{**READY, **change})
    with pytest.raises(ProductionSettingMissing, match=named) as refused:
        settings.check_production(loads_demo=True)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "secrets.json").exists()


def test_production_with_every_setting_starts_and_development_never_refuses(
    tmp_path: Path,
) -> None:
    Settings(data_dir=tmp_path, **READY).check_production(loads_demo=True)
    Settings(data_dir=tmp_path, demo_password=DEMO_PASSWORD).check_production(loads_demo=True)
    # Without demo data the documented password is never used, so it is no reason to stop.
    Settings(data_dir=tmp_path, **{**READY, "demo_password": DEMO_PASSWORD}).check_production()


def test_serve_in_production_without_a_secret_exits_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**READY, "secret_keys": ""}.items():
        monkeypatch.setenv(f"TENANTRY_{name.upper()}", str(value))
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path), "--no-demo"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: TENANTRY_SECRET_KEYS is not set: production mode never generates secrets"
        " (TENANTRY_ENV=production)"
    ]

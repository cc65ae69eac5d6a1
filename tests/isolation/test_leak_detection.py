"""The suite can see a leak: routes that read and write past every wall are reported.

A route that reads every tenant's memberships in a system scope, one that changes every
tenant's services, and one that answers 403 for another tenant's booking but 404 for a
missing one. The engine — in-process, and ``tenantry probe`` over HTTP against a real
uvicorn — must name each of them.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tenantry.ops.cli import app as cli
from tenantry.probe import Engine, Report, SqlAdapter
from tenantry.probe.report import DISTINGUISHABLE, LEAK_BODY, LEAK_CHANGED
from tests.factories import PASSWORD
from tests.helpers import TEST_KEYS
from tests.isolation.conftest import route_table
from tests.isolation.leaky import (
    LEAKY_ORACLE,
    LEAKY_READ,
    LEAKY_WRITE,
    leaky_app,
    serve_in_thread,
)
from tests.isolation.world import World


def only_leaky(key: str) -> bool:
    return "/leaky/" in key


@pytest.fixture(scope="module")
def app_with_leaks(settings, db):  # type: ignore[no-untyped-def]
    return leaky_app(settings, db)


@pytest.fixture(scope="module")
def leaky_report(app_with_leaks, db, settings, shared_world: World) -> Report:
    cfg = shared_world.config(
        settings, route_table=route_table(app_with_leaks), select=only_leaky, scenarios=False
    )
    with TestClient(app_with_leaks) as client:
        report = Engine(client, cfg, adapter=SqlAdapter(db)).run()
    print(report.summary())
    return report


def routes_of(report: Report, kind: str) -> set[str]:
    return {f.route for f in report.of_kind(kind)}


def test_a_route_that_reads_past_every_wall_is_reported_as_leaking(leaky_report):
    assert LEAKY_READ in routes_of(leaky_report, LEAK_BODY)


def test_a_route_that_changes_another_tenants_rows_is_reported(leaky_report):
    assert LEAKY_WRITE in routes_of(leaky_report, LEAK_CHANGED)
    details = " ".join(f.detail for f in leaky_report.of_kind(LEAK_CHANGED))
    assert "services" in details  # the database digest names the table


def test_an_existence_oracle_is_reported_as_distinguishable(leaky_report):
    assert LEAKY_ORACLE in routes_of(leaky_report, DISTINGUISHABLE)


def test_the_real_routes_next_to_them_are_not_blamed(leaky_report):
    blamed = {f.route for f in leaky_report.leaks} | routes_of(leaky_report, DISTINGUISHABLE)
    assert blamed <= {LEAKY_READ, LEAKY_WRITE, LEAKY_ORACLE}


@pytest.mark.slow
def test_tenantry_probe_over_http_exits_nonzero_and_names_the_leaky_route(
    app_with_leaks, shared_world: World, tmp_path
):
    a, b = shared_world.a, shared_world.b
    report_path = tmp_path / "probe.json"
    with serve_in_thread(app_with_leaks) as url:
        result = CliRunner().invoke(
            cli,
            [
                "probe", "--target", url, "--tenant-a", a.slug, "--tenant-b", b.slug,
                "--password", PASSWORD,
                "--a-owner", a["owner"].email, "--a-admin", a["admin"].email,
                "--a-staff", a["staff"].email, "--a-client", a["client"].email,
                "--a-client2", a["client2"].email,
                "--b-owner", b["owner"].email, "--b-client", b["client"].email,
                "--only", "/leaky/", "--report", str(report_path),
                "--signing-keys", TEST_KEYS,
            ],
        )  # fmt: skip
    print(result.output)
    assert result.exit_code == 1, result.output
    assert LEAKY_READ in result.output
    assert LEAKY_WRITE in result.output  # B's own API view changed
    assert report_path.exists()
    assert "no --signing-keys given" not in result.output  # expired/forged sigs were tried

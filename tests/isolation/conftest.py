"""Fixtures for the isolation suite: two-tenant worlds, engine runs, reports."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.isolation.scopes import iter_api_routes, route_scope
from tenantry.probe import Engine, Report, SqlAdapter
from tenantry.settings import Settings
from tests.isolation.world import World, make_world

REPORT_DIR = Path(os.environ.get("TENANTRY_ISOLATION_REPORTS", "build/isolation"))

# Every exemption a test of this suite relied on in this run (a route left unexercised,
# an operation under the fuzz's 2xx share, an admin read not flagged with both walls off),
# each with its written reason: printed in the run's summary, so none hides in a pass.
# "what: reason" → the runs that relied on it.
EXEMPTIONS_USED: dict[str, list[str]] = {}


def note_exemption(run: str, line: str) -> None:
    EXEMPTIONS_USED.setdefault(line, []).append(run)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if EXEMPTIONS_USED:
        terminalreporter.section("isolation: exemptions relied on, with their reasons")
        for line, runs in EXEMPTIONS_USED.items():
            terminalreporter.write_line(f"{line} [{', '.join(runs)}]")


def note_exemptions(report: Report, name: str) -> None:
    """The routes of an engine run that stayed unexercised or were skipped, by reason."""
    for r in report.routes.values():
        if r.skipped:
            note_exemption(name, f"{r.route} not probed: {r.skipped}")
        elif r.exempt and not r.exercised:
            note_exemption(name, f"{r.route} unexercised: {r.exempt}")


@pytest.fixture
def world(db: Database) -> World:
    """A fresh world: for runs whose closing scenarios remove members and sessions."""
    return make_world(db)


@pytest.fixture(scope="module")
def shared_world(db: Database) -> World:
    """One world for the runs of a module that leave memberships and sessions alone."""
    return make_world(db)


def route_table(app: FastAPI) -> list[tuple[str, str, str | None]]:
    return [
        (method, path, route_scope(route))
        for route, path in iter_api_routes(app)
        for method in sorted(route.methods or ())
    ]


def run_engine(
    app: FastAPI,
    db: Database,
    settings: Settings,
    world: World,
    *,
    name: str,
    **config: object,
) -> Report:
    """One engine run in-process; prints the summary and writes the JSON report."""
    # Each sweep its own seed: several sweeps share a world, and the same seed would book
    # the same slots again (409 slot_taken instead of the success path).
    config.setdefault("seed", zlib.crc32(name.encode()))
    cfg = world.config(settings, route_table=route_table(app), **config)
    target = f"in-process app ({name})"
    with TestClient(app) as client:
        report = Engine(client, cfg, adapter=SqlAdapter(db), target=target).run()
    print(report.summary())
    note_exemptions(report, name)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    report.write(REPORT_DIR / f"{name}.json")
    return report

"""``tenantry serve`` runs on an event loop psycopg's async connection works on: every
request's unit of work waits on it, and it refuses Windows' ProactorEventLoop, which
uvicorn picks there for a single process."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvicorn

from tenantry.ops.cli import event_loop_setting


def test_on_windows_serve_asks_uvicorn_for_a_selector_loop_not_the_proactor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")  # what uvicorn's own factories look at
    config = uvicorn.Config(app=None, loop=event_loop_setting("win32"))  # type: ignore[arg-type]
    factory = config.get_loop_factory()
    assert factory is asyncio.SelectorEventLoop


def test_elsewhere_serve_keeps_uvicorns_choice() -> None:
    assert event_loop_setting("linux") == "auto"

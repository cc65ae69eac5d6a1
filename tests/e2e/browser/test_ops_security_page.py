"""The platform operator's security view in a real Chromium, against a real server.

Tenants make traffic and get refused (a tampered ``tenant_sig``, a cookie sent to
another tenant's host); the operator's page then plots requests and security events
per tenant and lists the refusals with their request ids. A tenant member — even an
owner — gets 404 on the page and 403 on its API. Screenshot: ``-s`` prints its path.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from tenantry.app import create_app
from tenantry.auth.models import User
from tenantry.db.engine import Database
from tenantry.observability.models import OpsSecurityEvent, OpsTraffic
from tenantry.settings import Settings
from tests.e2e.browser.conftest import CHROMIUM_ARGS, serve  # noqa: F401
from tests.factories import PASSWORD, Member, TenantFixture, make_tenant, make_user

with contextlib.suppress(ImportError):  # the browser fixture reports a missing playwright
    from playwright.sync_api import Browser, expect


@pytest.fixture(scope="module")
def ops_url(settings: Settings, db: Database) -> Iterator[str]:
    live = serve(create_app(settings, db))
    yield live.url
    live.stop()


@pytest.fixture(scope="module")
def operator(db: Database) -> Member:
    member = make_user(db)
    with db.system_session(reason="test: make a platform operator") as s:
        s.execute(update(User).where(User.id == member.user_id).values(is_superadmin=True))
    return member


@contextlib.contextmanager
def signed_in(base: str, member: Member) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as client:
        r = client.post("/api/auth/login", json={"email": member.email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield client


def test_a_tenant_member_cannot_open_the_operator_view(ops_url: str, db: Database) -> None:
    owner = make_tenant(db, roles=("owner",))["owner"]
    with signed_in(ops_url, owner) as c:
        assert c.get("/ops/security").status_code == 404
        r = c.get("/api/ops/security")
        assert r.status_code == 403 and r.json()["error"]["code"] == "operator_required"
    with httpx.Client(base_url=ops_url) as anonymous:
        assert anonymous.get("/ops/security").status_code == 303
        assert anonymous.get("/api/ops/security").status_code == 401


def _make_trouble(base: str, attacker: TenantFixture, other: TenantFixture) -> list[str]:
    """Normal traffic and two kinds of refusal; returns the refused requests' ids."""
    refused = []
    with signed_in(base, attacker["owner"]) as c:
        for _ in range(5):
            assert c.get("/api/tenant/current").status_code == 200
        r = c.get("/api/tenant/current", headers={"host": f"{other.slug}.localhost"})
        assert r.status_code == 403
        refused.append(r.headers["x-request-id"])
        sig = c.cookies["tenant_sig"]
        c.cookies.set("tenant_sig", sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"))
        r = c.get("/api/tenant/current")
        assert r.status_code == 403
        refused.append(r.headers["x-request-id"])
    with signed_in(base, other["owner"]) as c:
        assert c.get("/api/tenant/current").status_code == 200
    return refused


def test_the_operator_sees_plots_and_the_refusals_with_request_ids(
    browser: Browser,
    ops_url: str,
    db: Database,
    operator: Member,
    shoot: Callable[[Any, str], Path],
) -> None:
    # The suite's other tests share this database: start from an empty view, so the
    # plots' busiest tenants are this test's (the page folds the rest into `other`).
    with db.system_session(reason="test: empty the operator view") as s:
        s.execute(delete(OpsTraffic))
        s.execute(delete(OpsSecurityEvent))
    attacker, other = make_tenant(db, roles=("owner",)), make_tenant(db, roles=("owner",))
    refused = _make_trouble(ops_url, attacker, other)

    context = browser.new_context(base_url=ops_url, viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(10_000)
    errors: list[str] = []
    try:
        r = context.request.post(
            "/api/auth/login", data={"email": operator.email, "password": PASSWORD}
        )
        assert r.ok, r.text()
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/ops/security")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true")
        # One line per tenant in the plots, the attacker's among them.
        attacker_line = f'path[data-tenant="{attacker.slug}"]'
        expect(page.locator(f"#plot-security svg {attacker_line}")).to_have_count(1)
        expect(page.locator(f"#plot-requests svg {attacker_line}")).to_have_count(1)
        expect(page.locator(f'#plot-requests svg path[data-tenant="{other.slug}"]')).to_have_count(
            1
        )
        recent = page.locator("#recent tbody")
        for request_id in refused:
            expect(recent).to_contain_text(request_id)
        expect(page.locator("#by-code tbody")).to_contain_text("tenant_mismatch")
        expect(page.locator("#by-code tbody")).to_contain_text("tenant_sig_invalid")
        expect(page.locator("#top-tenants tbody")).to_contain_text(attacker.slug)
        expect(page.locator("#top-users tbody")).to_contain_text(attacker["owner"].email)
        shot = shoot(page, "ops-security")
        assert shot.stat().st_size > 10_000
        expect(page).to_have_url(re.compile(r"/ops/security$"))
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"

"""The quality bar of the pages: axe-core finds no serious or critical accessibility
violation on the main pages, and at 390 px wide nothing scrolls sideways.

axe-core is the copy the ``axe-playwright-python`` wheel ships (``axe.min.js``, a dev
dependency); it is evaluated in the page through Playwright, not served by the app.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenant_settings.models import BookingSettings
from tests.e2e.browser.conftest import LiveServer, new_page
from tests.factories import Member, TenantFixture, make_service, make_tenant

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Page, expect

Shoot = Callable[..., Path]


def axe_source() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        pytest.fail("axe-playwright-python (dev dependency) ships axe-core; install .[dev]")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@dataclass
class Site:
    tenant: TenantFixture
    staff_pages: list[str]
    client_pages: list[str]


@pytest.fixture(scope="module")
def site(db: Database, live: LiveServer, browser: Browser) -> Site:
    """A tenant with a record in every main area, made through the API as its owner
    and its client (so the pages show real rows)."""
    tenant = make_tenant(db, roles=("owner", "staff", "client"))
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(BookingSettings(timezone="Europe/Berlin", currency="EUR", min_notice_minutes=0))
    service = make_service(db, tenant.id, name="Deep clean", price=12000)
    client = signed_in(browser, live.url, tenant["client"])
    slots = client.request.get(
        "/api/portal/availability", params={"service_id": str(service), "from": _today()}
    ).json()["slots"]
    booking = client.request.post(
        "/api/portal/bookings",
        data={"service_id": str(service), "starts_at": slots[3]["starts_at"]},
    ).json()
    request = client.request.post(
        "/api/portal/service-requests",
        data={"service_id": str(service), "title": "Broken window", "description": "Kitchen"},
    ).json()
    client.request.post(
        f"/api/portal/service-requests/{request['id']}/chat", data={"body": "Hello there"}
    )
    owner = signed_in(browser, live.url, tenant["owner"])
    invoice = owner.request.post(
        "/api/admin/invoices",
        data={
            "client_id": str(tenant["client"].user_id),
            "booking_id": booking["id"],
            "lines": [{"description": "Deep clean", "unit_price_cents": 12000}],
        },
    ).json()
    owner.request.post(f"/api/admin/invoices/{invoice['id']}/send")
    owner.context.close()
    client.context.close()
    return Site(
        tenant,
        staff_pages=[
            "/app",
            "/app/schedule",
            "/app/bookings",
            "/app/bookings/new",
            f"/app/bookings/{booking['id']}",
            "/app/requests",
            f"/app/requests/{request['id']}",
            "/app/work-orders",
            "/app/invoices",
            f"/app/invoices/{invoice['id']}",
            "/app/invoices/new",
            "/app/expenses",
            "/app/clients",
            f"/app/clients/{tenant['client'].user_id}",
            "/app/services",
            "/app/team",
            "/app/permissions",
            "/app/settings",
            "/app/posts",
            "/app/inbox",
            "/app/reminders",
        ],
        client_pages=[
            "/app",
            "/app/book",
            "/app/my-bookings",
            "/app/my-requests",
            f"/app/my-requests/{request['id']}",
            "/app/my-invoices",
            f"/app/my-invoices/{invoice['id']}",
        ],
    )


def _today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()


def _name(path: str) -> str:
    """``/app/bookings/<uuid>`` -> ``bookings-one``: a file name per page."""
    parts = ["one" if len(p) == 36 else p for p in path.strip("/").split("/")]
    return "-".join(parts) or "root"


def signed_in(browser: Browser, base_url: str, member: Member, **options: Any) -> Page:
    page = new_page(browser, base_url, **options)
    page.goto("/login")
    page.wait_for_selector("body[data-ready]", state="attached")
    page.fill("#email", member.email)
    page.fill("#password", member.password)
    page.click("#login-submit")
    page.wait_for_url("**/app")
    return page


def settle(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("body[data-ready=done]", state="attached", timeout=15_000)
    expect(page.locator("text=Loading…")).to_have_count(0)


def serious_violations(page: Page, source: str) -> list[str]:
    page.evaluate(source)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def errors() -> Iterator[list[str]]:
    found: list[str] = []
    yield found
    assert not found, f"JavaScript errors: {found}"


def test_main_pages_pass_axe_and_fit_a_390_px_phone(
    browser: Browser, live: LiveServer, site: Site, shoot: Shoot, errors: list[str]
) -> None:
    """One visit per page, at phone width: axe's serious and critical violations, and
    anything wider than the screen. The dashboard is checked at desktop width too,
    where the navigation is open."""
    source = axe_source()
    phone = {"viewport": {"width": 390, "height": 844}}
    violations: dict[str, list[str]] = {}
    wide: dict[str, int] = {}

    def check(page: Page, label: str, path: str) -> None:
        settle(page, path)
        found = serious_violations(page, source)
        if found:
            violations[f"{label} {path}"] = found
        width = int(page.evaluate("document.documentElement.scrollWidth"))
        viewport = page.viewport_size
        if viewport and width > viewport["width"]:
            wide[f"{label} {path}"] = width
        if viewport and viewport["width"] < 500:  # every page as a phone shows it
            shoot(page, f"{label}-phone-{_name(path)}")

    people = ((site.tenant["owner"], site.staff_pages), (site.tenant["client"], site.client_pages))
    for member, paths in people:
        page = signed_in(browser, live.url, member, **phone)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            for path in paths:
                check(page, member.role, path)
            # The menu, the business switcher and the sign-out buttons fold behind a
            # button and open with it.
            expect(page.locator("#nav")).to_be_hidden()
            expect(page.locator("#tenant-switcher")).to_be_hidden()
            expect(page.locator("#logout")).to_be_hidden()
            page.click("#menu-toggle")
            expect(page.locator("#nav")).to_be_visible()
            expect(page.locator("#tenant-switcher")).to_be_visible()
            expect(page.locator("#logout")).to_be_visible()
            shoot(page, f"{member.role}-menu-open-phone", full=False)
            page.set_viewport_size({"width": 1280, "height": 860})
            check(page, member.role + " desktop", "/app")
        finally:
            page.context.close()
    anonymous = new_page(browser, live.url, **phone)
    public = new_page(browser, live.host_url(f"{site.tenant.slug}.localhost"), **phone)
    try:
        check(anonymous, "anonymous", "/login")
        check(public, "visitor", "/")
        check(public, "visitor", "/login")
        # The check can fail: a nameless button is reported (critical).
        public.evaluate("document.body.appendChild(document.createElement('button'))")
        assert any(v.startswith("button-name") for v in serious_violations(public, source))
    finally:
        anonymous.context.close()
        public.context.close()
    assert violations == {}, violations
    assert wide == {}, wide

"""The web UI in a real Chromium (Playwright) against the real app served by uvicorn.

Chromium comes from the system (``/usr/bin/chromium``; ``.ci/run`` installs it with
apt-get); ``playwright install`` is never used. Without Chromium or Playwright the tests
fail in CI (``CI=true``) and are skipped elsewhere.

The served app, the browser and the screenshot helper come from tests/e2e/conftest.py.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tenantry.app import create_app
from tenantry.db.engine import Database
from tenantry.settings import Settings
from tenantry.tenants.lifecycle import add_member, provision_tenant
from tests.e2e.browser.conftest import serve
from tests.factories import Member, TenantFixture, make_tenant, make_user

with contextlib.suppress(ImportError):  # the browser fixture says why it cannot run
    from playwright.sync_api import Browser, Page, expect


# ---- data ---------------------------------------------------------------------------


@dataclass
class TwoTenants:
    first: TenantFixture
    first_name: str
    second: TenantFixture
    second_name: str
    user: Member  # admin of the first, client of the second


# Shown as text, never interpreted: the page must not run it.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">Globex & Co'


@pytest.fixture
def two_tenants(db: Database) -> TwoTenants:
    slug_a = "acme-" + uuid.uuid4().hex[:8]
    slug_b = "globex-" + uuid.uuid4().hex[:8]
    name_a = f"Acme Home Services {slug_a[-4:]}"
    name_b = f"{HOSTILE_NAME} {slug_b[-4:]}"
    ref_a = provision_tenant(db, slug=slug_a, name=name_a)
    ref_b = provision_tenant(db, slug=slug_b, name=name_b)
    user = make_user(db)
    add_member(db, tenant_id=ref_a.id, user_id=user.user_id, role="admin")
    add_member(db, tenant_id=ref_b.id, user_id=user.user_id, role="client")
    return TwoTenants(
        TenantFixture(ref_a.id, ref_a.slug),
        name_a,
        TenantFixture(ref_b.id, ref_b.slug),
        name_b,
        user,
    )


@pytest.fixture
def tenant_a(db: Database) -> TenantFixture:
    """A fresh tenant with just an owner (password hashing dominates setup time)."""
    return make_tenant(db, roles=("owner",))


def sign_in(p: Page, email: str, password: str) -> None:
    p.goto("/login")
    p.wait_for_selector("body[data-ready]", state="attached")
    p.fill("#email", email)
    p.fill("#password", password)
    p.click("#login-submit")


# ---- tests ----------------------------------------------------------------------------


def test_the_root_sends_a_visitor_to_the_sign_in_form(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#login-form")).to_be_visible()
    page.goto("/app/bookings")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapp%2Fbookings$"))


def test_a_member_signs_in_through_the_form_and_sees_the_active_tenant(
    page: Page, tenant_a: TenantFixture, shoot: Callable[[Page, str], Path]
) -> None:
    owner = tenant_a["owner"]
    sign_in(page, owner.email, owner.password)

    expect(page).to_have_url(re.compile(r"/app$"))
    # Two services through the API with the page's own cookies (one with a name that
    # looks like markup: it must be shown as text).
    created = [
        page.request.post(
            "/api/admin/services",
            data={"slug": slug, "name": name, "price_cents": cents, "duration_minutes": 60},
        ).status
        for slug, name, cents in (
            ("deep-clean", "Deep clean", 12900),
            ("boiler", "Boiler <b>check</b>", 8900),
        )
    ]
    assert created == [201, 201]
    page.reload()
    expect(page.locator("#user-email")).to_have_text(owner.email)
    expect(page.locator("#tenant-name")).to_have_text(f"Tenant {tenant_a.slug}")
    expect(page.locator("#tenant-role")).to_have_text("Owner")
    switcher = page.locator("#tenant-switcher")
    expect(switcher).to_have_value(tenant_a.slug)
    # Staff see the dashboard's figures and the admin navigation.
    expect(page.locator("#stats .stat")).to_have_count(5)
    expect(page.locator("#nav a", has_text="Services")).to_have_count(1)
    page.locator("#nav a", has_text="Services").click()
    expect(page).to_have_url(re.compile(r"/app/services$"))
    rows = page.locator("table.data tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.data", has_text="Boiler <b>check</b>")).to_have_count(1)
    expect(page.locator("table.data b")).to_have_count(0)
    # Amounts in the tenant's currency (USD until it sets one), statuses as words.
    expect(page.locator("table.data td", has_text="$129.00")).to_have_count(1)
    expect(page.locator("table.data .badge", has_text="Active")).to_have_count(2)
    # The root now goes straight to the app.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/app$"))
    expect(page.locator("#tenant-role")).to_have_text("Owner")
    shoot(page, "owner-dashboard")


def test_a_member_of_two_tenants_chooses_switches_and_signs_out_everywhere(
    page: Page, browser: Browser, live_url: str, two_tenants: TwoTenants, shoot: Any
) -> None:
    t = two_tenants
    sign_in(page, t.user.email, t.user.password)

    # Two tenants and none used yet: the user must choose.
    expect(page).to_have_url(re.compile(r"/app$"))
    expect(page.locator("#no-tenant")).to_be_visible()
    expect(page.locator("#no-tenant h1")).to_have_text("Choose a business")
    switcher = page.locator("#tenant-switcher")
    expect(switcher.locator("option:checked")).to_have_text("choose a business…")
    shoot(page, "choose-a-tenant")

    switcher.select_option(t.first.slug)
    expect(page.locator("#tenant-name")).to_have_text(t.first_name)
    expect(page.locator("#tenant-role")).to_have_text("Admin")
    expect(page.locator("#no-tenant")).to_be_hidden()
    expect(page.locator("#nav a", has_text="Services")).to_have_count(1)
    shoot(page, "first-tenant-admin")

    switcher.select_option(t.second.slug)
    expect(page.locator("#tenant-name")).to_have_text(t.second_name)
    expect(page.locator("#tenant-role")).to_have_text("Client")
    expect(switcher).to_have_value(t.second.slug)
    # A client sees the portal, not the admin pages.
    expect(page.locator("#nav a", has_text="My invoices")).to_have_count(1)
    expect(page.locator("#nav a", has_text="Services")).to_have_count(0)
    # The hostile tenant name is text: no element was created, nothing ran.
    expect(page.locator("#tenant-name img")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    shoot(page, "second-tenant-client")

    old_cookies = page.context.cookies()
    page.click("#logout-all")
    expect(page).to_have_url(re.compile(r"/login\?notice=all$"))
    expect(page.locator("#login-notice")).to_have_text("You are signed out everywhere.")
    shoot(page, "signed-out-everywhere")
    page.goto("/app")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fapp$"))

    # A browser that kept the old cookies is signed out too: the API refuses the
    # session and the shell sends it back to the form.
    other = browser.new_context(base_url=live_url)
    try:
        other.add_cookies(old_cookies)  # type: ignore[arg-type]
        me = other.request.get("/api/auth/me")
        assert me.status == 403
        assert me.json()["error"]["code"] == "session_revoked"
        stale = other.new_page()
        stale.goto("/app")
        expect(stale).to_have_url(re.compile(r"/login\?notice=expired$"))
        expect(stale.locator("#login-notice")).to_contain_text("session has ended")
    finally:
        other.close()


def test_a_wrong_password_says_so_in_words(
    page: Page, tenant_a: TenantFixture, shoot: Callable[[Page, str], Path]
) -> None:
    sign_in(page, tenant_a["owner"].email, "not-the-password")

    error = page.locator("#login-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("Wrong email or password.")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#login-submit")).to_be_enabled()
    shoot(page, "wrong-password")


def test_a_malformed_email_is_explained_beside_the_field(page: Page) -> None:
    sign_in(page, "not-an-email", "whatever")

    field_error = page.locator("#email-error")
    expect(field_error).to_have_text("Enter an email address like name@example.com.")
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#login-error")).to_have_text("Please correct the highlighted field.")
    expect(page.locator("#login-error")).not_to_contain_text("validation_error")


def test_an_empty_form_asks_for_each_field(page: Page) -> None:
    page.goto("/login")
    page.wait_for_selector("body[data-ready]", state="attached")
    page.click("#login-submit")
    expect(page.locator("#email-error")).to_have_text("Enter your email address.")
    expect(page.locator("#password-error")).to_have_text("Enter your password.")
    expect(page.locator("#email")).to_be_focused()


def test_too_many_attempts_show_the_rate_limit_message(
    browser: Browser, settings: Settings, db: Database, tenant_a: TenantFixture
) -> None:
    strict = settings.model_copy(update={"login_failures_per_account": "2/minute"})
    live = serve(create_app(strict, db))
    context = browser.new_context(base_url=live.url)
    try:
        p = context.new_page()
        for _ in range(2):
            sign_in(p, tenant_a["owner"].email, "not-the-password")
            expect(p.locator("#login-error")).to_have_text("Wrong email or password.")
        sign_in(p, tenant_a["owner"].email, tenant_a["owner"].password)
        expect(p.locator("#login-error")).to_contain_text("Too many attempts")
        expect(p).to_have_url(re.compile(r"/login$"))
    finally:
        context.close()
        live.stop()


def test_the_demo_hint_fills_the_form(page: Page, settings: Settings) -> None:
    page.goto("/login")
    page.wait_for_selector("body[data-ready]", state="attached")
    hint = page.locator("#demo-hint")
    expect(hint).to_contain_text(settings.demo_password)
    page.locator(".demo-account", has_text="consultant@demo.test").click()
    expect(page.locator("#email")).to_have_value("consultant@demo.test")
    expect(page.locator("#password")).to_have_value(settings.demo_password)


def test_unknown_static_files_are_not_served(page: Page) -> None:
    for name in ("routes.py", "..%2Froutes.py", "templates%2Fbase.html"):
        response = page.request.get(f"/static/{name}")
        assert response.status == 404, name
    assert page.request.get("/static/js/main.js").status == 200
    assert page.request.get("/static/app.css").status == 200

"""The e-mailed account links, end to end in Chromium against a served app whose mail
goes to an in-process SMTP server: a sign-up confirmed from its link, a password reset,
and an invitation sent from the Team page and accepted by a person with no account, who
then signs in. Screenshots: build/screenshots/."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tenantry.app import create_app
from tenantry.db.engine import Database
from tenantry.settings import Settings
from tests.e2e.browser.conftest import LiveServer, new_page, serve
from tests.factories import PASSWORD, make_tenant
from tests.integration.api.mailbox import (  # noqa: F401 - the mailbox fixture
    Mailbox,
    body_of,
    deliver_account_mail,
    mail_settings,
    mailbox,
)

with contextlib.suppress(ImportError):  # the browser fixture reports a missing playwright
    from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def mail_served(
    settings: Settings,
    db: Database,
    mailbox: Mailbox,  # noqa: F811
) -> Iterator[tuple[LiveServer, Settings]]:
    configured = mail_settings(settings, mailbox.port)
    server = serve(create_app(configured, db))
    yield server, configured
    server.stop()


def _deliver(db: Database, configured: Settings) -> None:
    """Run the account-mail worker in its own thread: Playwright's sync API keeps an
    event loop running in this one, and the worker starts its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(deliver_account_mail, db, configured).result(timeout=60)


def _link(box: Mailbox, address: str, page: str) -> str:
    """The path of the e-mailed link (the host is the configured public URL)."""
    found = re.search(rf"{re.escape(page)}\?token=[A-Za-z0-9_.\-]+", body_of(box.last_to(address)))
    assert found, body_of(box.last_to(address))
    return found.group(0)


def _page(browser: Browser, url: str) -> Page:
    page = new_page(browser, url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    return page


def test_a_forgotten_password_is_reset_from_the_e_mailed_link(
    browser: Browser,
    db: Database,
    mailbox: Mailbox,  # noqa: F811
    mail_served: tuple[LiveServer, Settings],
    shoot: Callable[..., Path],
) -> None:
    server, configured = mail_served
    owner = make_tenant(db, roles=("owner",))["owner"]
    page = _page(browser, server.url)
    try:
        page.goto("/login")
        page.get_by_role("link", name="Forgot your password?").click()
        page.locator("input[name=email]").fill(owner.email)
        page.get_by_role("button", name="Send me a link").click()
        expect(page.locator("#forgot-sent")).to_contain_text("reset link")
        _deliver(db, configured)
        page.goto(_link(mailbox, owner.email, "/reset-password"))
        shoot(page, "reset-form")
        page.locator("input[name=new_password]").fill("a-brand-new-password-42")
        page.get_by_role("button", name="Set my password").click()
        expect(page.locator("#reset-done")).to_contain_text("Your password is set")
        shoot(page, "reset-done")
        assert not page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
    with httpx.Client(base_url=server.url) as api:
        old = api.post("/api/auth/login", json={"email": owner.email, "password": PASSWORD})
        assert old.status_code == 401
        new = api.post(
            "/api/auth/login", json={"email": owner.email, "password": "a-brand-new-password-42"}
        )
        assert new.status_code == 200, new.text


def test_an_invited_person_joins_from_the_e_mailed_link_and_signs_in(
    browser: Browser,
    db: Database,
    mailbox: Mailbox,  # noqa: F811
    mail_served: tuple[LiveServer, Settings],
    shoot: Callable[..., Path],
) -> None:
    server, configured = mail_served
    tenant = make_tenant(db, roles=("owner",))
    address = f"new-{uuid.uuid4().hex[:8]}@example.test"
    inviter = _page(browser, server.url)
    try:
        r = inviter.context.request.post(
            "/api/auth/login", data={"email": tenant["owner"].email, "password": PASSWORD}
        )
        assert r.ok, r.text()
        inviter.goto("/app/team")
        form = inviter.locator("#invite-form")
        form.locator("input[name=email]").fill(address)
        form.locator("input[name=name]").fill("Sam")
        form.locator("select[name=role]").select_option("staff")
        form.get_by_role("button", name="Send invitation").click()
        expect(inviter.locator("#invite-result")).to_contain_text(f"e-mailed to {address}")
        shoot(inviter, "owner-invited")
        assert not inviter.errors  # type: ignore[attr-defined]
    finally:
        inviter.context.close()
    _deliver(db, configured)
    page = _page(browser, server.url)
    try:
        page.goto(_link(mailbox, address, "/accept-invitation"))
        expect(page.locator("#invitation-offer")).to_contain_text(address)
        expect(page.locator("#invitation-offer")).to_contain_text("staff")
        shoot(page, "invitation")
        page.locator("input[name=password]").fill("sams-own-password-1")
        page.get_by_role("button", name=re.compile("^Join ")).click()
        page.wait_for_url(re.compile(r"/app"))
        assert not page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
    with httpx.Client(base_url=server.url) as sam:
        r = sam.post("/api/auth/login", json={"email": address, "password": "sams-own-password-1"})
        assert r.status_code == 200, r.text
        current = sam.get("/api/tenant/current")
        assert current.status_code == 200 and current.json()["role"] == "staff", current.text


def test_a_newcomer_signs_up_on_a_tenant_host_and_confirms_from_the_e_mailed_link(
    browser: Browser,
    db: Database,
    mailbox: Mailbox,  # noqa: F811
    mail_served: tuple[LiveServer, Settings],
    shoot: Callable[..., Path],
) -> None:
    server, configured = mail_served
    tenant = make_tenant(db, roles=("owner",))
    address = f"pat-{uuid.uuid4().hex[:8]}@example.test"
    page = _page(browser, server.host_url(f"{tenant.slug}.localhost"))
    try:
        page.goto("/signup")
        page.locator("input[name=name]").fill("Pat Visitor")
        page.locator("input[name=email]").fill(address)
        page.locator("input[name=password]").fill("a-long-enough-password")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("#signup-sent")).to_contain_text("Check your inbox")
        _deliver(db, configured)
        page.goto(_link(mailbox, address, "/verify-email"))
        page.locator("input[name=password]").fill("a-long-enough-password")
        page.get_by_role("button", name="Confirm my address").click()
        expect(page.locator("#tenant-role")).to_have_text("Client")
        shoot(page, "confirmed-client")
        assert not page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()

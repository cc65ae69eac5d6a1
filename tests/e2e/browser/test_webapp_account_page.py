"""The signed-in person's account page and the team's open invitations, in Chromium:
a member changes their password (the wrong current one is said beside its field) and
signs in with the new one; an owner sees an invitation in the open list and revokes it
(asked first). Screenshots: build/screenshots/test_webapp_account_page/."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

from tenantry.db.engine import Database
from tests.e2e.browser.conftest import new_page
from tests.factories import Member, make_tenant

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Page, expect

Shoot = Callable[..., Path]


def _signed_in(browser: Browser, url: str, email: str, password: str) -> Page:
    page = new_page(browser, url)
    page.goto("/login")
    page.wait_for_selector("body[data-ready]", state="attached")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/app"))
    return page


def test_a_member_changes_their_password_on_the_account_page(
    db: Database, browser: Browser, live_url: str, shoot: Shoot
) -> None:
    member: Member = make_tenant(db, roles=("owner", "client"))["client"]
    page = _signed_in(browser, live_url, member.email, member.password)
    try:
        page.locator("#user-email").click()
        expect(page.locator("#page-title")).to_have_text("Your account")
        page.get_by_label("Current password").fill("not-the-password")
        page.get_by_label("New password", exact=True).fill("a-new-password-here")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator("[data-field=current_password] .field-error")).to_be_visible()
        page.get_by_label("Current password").fill(member.password)
        page.get_by_label("New password", exact=True).fill("a-new-password-here")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator("#password-changed")).to_be_visible()
        expect(page.locator("#my-invitations, .empty")).not_to_have_count(0)
        shoot(page, "password-changed")
    finally:
        page.context.close()
    again = _signed_in(browser, live_url, member.email, "a-new-password-here")
    again.context.close()


def test_an_owner_sees_open_invitations_and_revokes_one(
    db: Database, browser: Browser, live_url: str, shoot: Shoot
) -> None:
    t = make_tenant(db, roles=("owner",))
    address = f"kim-{t.slug}@example.test"
    owner = _signed_in(browser, live_url, t["owner"].email, t["owner"].password)
    try:
        owner.goto("/app/team")
        owner.locator("#invite-form").get_by_label("Email").fill(address)
        owner.get_by_role("button", name="Send invitation").click()
        expect(owner.locator("#invite-result")).to_contain_text(address)
        expect(owner.locator("#invitations")).to_contain_text(address)
        shoot(owner, "open-invitation")
        owner.get_by_role("button", name=f"Revoke the invitation of {address}").click()
        owner.locator("dialog.confirm").get_by_role("button", name="Revoke").click()
        expect(owner.locator("#invitations")).not_to_contain_text(address)
        expect(owner.locator("#invitations")).to_contain_text("No open invitations.")
    finally:
        owner.context.close()

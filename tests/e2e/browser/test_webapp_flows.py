"""The business run from the browser, end to end on the served app (Chromium):

* owner creates a service → a client books a free slot → the slot is gone → staff
  confirm and complete → the owner invoices it and marks it paid → the client sees
  the paid invoice with its lines;
* a client's request → triage → assign → chat with an attachment → booking;
* switching tenant on a tenant host lands on the other tenant's host;
* a client never sees another client's records, in any page.

Every step saves a screenshot under build/screenshots/test_flows/.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenant_settings.models import BookingSettings
from tenantry.tenants.lifecycle import add_member
from tests.e2e.browser.conftest import LiveServer, new_page
from tests.factories import Member, TenantFixture, add_client, make_tenant, make_user

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Page, expect

Shoot = Callable[..., Path]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class Shop:
    tenant: TenantFixture
    client2: Member


@pytest.fixture
def shop(db: Database) -> Shop:
    """A tenant in London (GBP), open every day 09:00-17:00 on an hourly grid, with one
    bookable staff member — so a booked hour is gone for everyone."""
    tenant = make_tenant(db, roles=("owner", "staff", "client"))
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(
            BookingSettings(
                timezone="Europe/London",
                currency="GBP",
                slot_minutes=60,
                min_notice_minutes=60,
                max_advance_days=30,
                business_hours={
                    d: [["09:00", "17:00"]]
                    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                },
            )
        )
    return Shop(tenant, add_client(db, tenant))


@pytest.fixture
def people(browser: Browser, live_url: str) -> Iterator[Callable[[Member], Page]]:
    """``as_(member)``: a page in a browser context of its own, signed in."""
    pages: list[Page] = []
    errors: list[str] = []

    def as_(member: Member) -> Page:
        page = new_page(browser, live_url)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, member)
        pages.append(page)
        return page

    yield as_
    for page in pages:
        page.context.close()
    assert not errors, f"JavaScript errors: {errors}"


def sign_in(page: Page, member: Member, path: str = "/login") -> None:
    page.goto(path)
    page.wait_for_selector("body[data-ready]", state="attached")
    page.fill("#email", member.email)
    page.fill("#password", member.password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/app"))


def choose(scope: Any, select: str, text: str) -> None:
    """Pick the option of ``select`` whose label contains ``text``."""
    option = scope.locator(f"{select} option", has_text=text).first
    scope.locator(select).select_option(option.get_attribute("value"))


def open_app(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("#page-title")).to_be_visible()


# --- booking to paid invoice ---------------------------------------------------------


def test_from_a_new_service_to_a_paid_invoice(
    shop: Shop, people: Callable[[Member], Page], shoot: Shoot
) -> None:
    t = shop.tenant
    owner = people(t["owner"])
    open_app(owner, "/app/services")
    owner.get_by_label("Name", exact=True).fill("Oven clean")
    owner.get_by_label("Price").fill("85")
    owner.get_by_label("Length in minutes").fill("60")
    owner.get_by_role("button", name="Add service").click()
    expect(owner.locator("table.data", has_text="Oven clean")).to_be_visible()
    expect(owner.locator("table.data td", has_text="£85.00")).to_be_visible()
    shoot(owner, "1-owner-added-a-service")

    client = people(t["client"])
    open_app(client, "/app/book")
    choose(client, "#book-service", "Oven clean")
    first = client.locator(".slot").first
    expect(first).to_be_visible()
    chosen = first.get_attribute("data-start")
    assert chosen
    first.click()
    expect(first).to_have_attribute("aria-pressed", "true")
    client.get_by_label("Anything we should know?").fill("The oven is gas.")
    shoot(client, "2-client-picked-a-slot")
    client.get_by_role("button", name="Book this time").click()
    expect(client.locator("#booked")).to_contain_text("You are booked for")
    shoot(client, "3-client-booked")

    # The hour is taken: the only bookable person is busy then.
    open_app(client, "/app/book")
    choose(client, "#book-service", "Oven clean")
    expect(client.locator(".slot").first).to_be_visible()
    expect(client.locator(f'.slot[data-start="{chosen}"]')).to_have_count(0)
    shoot(client, "4-slot-gone")

    staff = people(t["staff"])
    open_app(staff, "/app/bookings")
    staff.locator("table.data a").first.click()
    expect(staff.locator("#page-title")).to_have_text("Booking")
    expect(staff.locator(".facts")).to_contain_text("Oven clean")
    staff.get_by_role("button", name="Confirm").click()
    expect(staff.locator(".facts .badge")).to_have_text("Confirmed")
    staff.get_by_role("button", name="Mark completed").click()
    expect(staff.locator(".facts .badge")).to_have_text("Completed")
    shoot(staff, "5-staff-completed")
    booking_url = staff.url

    owner.goto(booking_url)
    owner.get_by_role("link", name="Create invoice").click()
    expect(owner.locator(".line-description").first).to_have_value(re.compile("Oven clean"))
    expect(owner.locator(".line-price").first).to_have_value("85.00")
    owner.get_by_role("button", name="Create invoice").click()
    expect(owner.locator("#page-title")).to_have_text(re.compile(r"^Invoice "))
    owner.get_by_role("button", name="Send to client").click()
    expect(owner.locator(".facts .badge")).to_have_text("Sent")
    owner.get_by_role("button", name="Mark paid").click()
    expect(owner.locator(".facts .badge")).to_have_text("Paid")
    expect(owner.locator("#invoice-total")).to_have_text("Total: £85.00")
    shoot(owner, "6-owner-marked-paid")
    owner.get_by_role("link", name="Printable view").click()
    expect(owner.locator("#invoice-print")).to_contain_text("£85.00")
    expect(owner.locator("#nav")).to_be_visible()  # on screen; @media print hides it
    shoot(owner, "7-printable-invoice")

    open_app(client, "/app/my-invoices")
    row = client.locator("table.data tbody tr").first
    expect(row).to_contain_text("Paid")
    expect(row).to_contain_text("£85.00")
    row.locator("a").click()
    expect(client.locator("table.data")).to_contain_text("Oven clean")
    expect(client.locator("#invoice-total")).to_have_text("Total: £85.00")
    shoot(client, "8-client-sees-paid-invoice")


# --- a request, from first message to a booking ------------------------------------------


def test_a_request_is_triaged_assigned_discussed_with_a_file_and_booked(
    shop: Shop,
    people: Callable[[Member], Page],
    shoot: Shoot,
    live_url: str,
    settings: Any,
    db: Database,
) -> None:
    t = shop.tenant
    from tests.factories import make_service

    make_service(db, t.id, name="Tap repair", minutes=60, price=6000)
    client = people(t["client"])
    open_app(client, "/app/my-requests/new")
    client.select_option("select[name=service_id]", label="Tap repair")
    client.get_by_label("Short summary").fill("Kitchen tap drips")
    client.get_by_label("Details").fill("Since Monday, under the sink too.")
    client.get_by_role("button", name="Send request").click()
    expect(client.locator("#page-title")).to_have_text("Kitchen tap drips")
    request_url = client.url
    client.get_by_label("Message", exact=True).fill("I am home after 2 pm.")
    client.get_by_role("button", name="Send message").click()
    expect(client.locator("#chat")).to_contain_text("I am home after 2 pm.")
    client.set_input_files(
        "input[type=file]", files=[{"name": "sink.png", "mimeType": "image/png", "buffer": PNG}]
    )
    client.get_by_role("button", name="Upload").click()
    expect(client.locator("#files")).to_contain_text("sink.png")
    expect(client.locator("#files")).to_contain_text("Being checked")
    shoot(client, "1-client-request-with-file")

    owner = people(t["owner"])
    open_app(owner, "/app/requests")
    owner.locator("table.data a", has_text="Kitchen tap drips").click()
    triage = owner.locator("#triage-form")
    triage.get_by_label("Priority").select_option("high")
    triage.get_by_role("button", name="Save triage").click()
    expect(owner.locator(".facts .badge").first).to_have_text("Triaged")
    assign = owner.locator("#assign-form")
    choose(assign, "select[name=assignee_id]", t["staff"].email)
    assign.get_by_role("button", name="Assign").click()
    expect(owner.locator(".facts .badge").first).to_have_text("Assigned")
    expect(owner.locator(".facts")).to_contain_text(t["staff"].email)
    owner.get_by_label("Message", exact=True).fill("Our plumber will bring a new washer.")
    owner.get_by_role("button", name="Send message").click()
    expect(owner.locator("#chat")).to_contain_text("I am home after 2 pm.")
    expect(owner.locator("#chat")).to_contain_text("Our plumber will bring a new washer.")
    # The scanner reports the file clean (its real callback route): now it opens.
    attachment = owner.request.get(
        re.sub(r"^.*/app/requests/", "/api/admin/service-requests/", owner.url) + "/attachments"
    ).json()["items"][0]
    scanned = httpx.post(
        f"{live_url}/api/attachments/scan-callback",
        json={"attachment_id": attachment["id"], "result": "clean"},
        headers={"X-Scanner-Secret": settings.av_secret},
    )
    assert scanned.status_code == 200, scanned.text
    owner.reload()
    expect(owner.locator("#files a", has_text="sink.png")).to_be_visible()
    shoot(owner, "2-owner-triaged-assigned-replied")

    first = owner.locator(".slot").first
    first.click()
    owner.locator("#convert").click()
    expect(owner.locator("#page-title")).to_have_text("Booking")
    expect(owner.get_by_role("link", name="Open the request")).to_be_visible()
    expect(owner.locator(".facts")).to_contain_text(t["staff"].email)
    shoot(owner, "3-converted-to-booking")

    client.goto(request_url)
    expect(client.locator("#chat")).to_contain_text("Our plumber will bring a new washer.")
    expect(client.locator("#files a", has_text="sink.png")).to_be_visible()
    shoot(client, "4-client-sees-reply")


# --- tenant hosts -------------------------------------------------------------------------


def test_switching_tenant_on_a_tenant_host_lands_on_the_other_tenants_host(
    browser: Browser, live: LiveServer, db: Database, shoot: Shoot
) -> None:
    first, second = make_tenant(db, roles=("owner",)), make_tenant(db, roles=("owner",))
    user = make_user(db)
    add_member(db, tenant_id=first.id, user_id=user.user_id, role="staff")
    add_member(db, tenant_id=second.id, user_id=user.user_id, role="client")
    page = new_page(browser, live.host_url(f"{first.slug}.localhost"))
    try:
        page.goto("/login")
        page.wait_for_selector("body[data-ready]", state="attached")
        expect(page.locator("#login-brand")).to_have_text(f"Tenant {first.slug}")
        shoot(page, "1-branded-login")
        page.fill("#email", user.email)
        page.fill("#password", user.password)
        page.click("#login-submit")
        expect(page.locator("#tenant-name")).to_have_text(f"Tenant {first.slug}")
        expect(page.locator("#tenant-role")).to_have_text("Staff")
        page.select_option("#tenant-switcher", second.slug)
        expect(page).to_have_url(re.compile(rf"^http://{second.slug}\.localhost:\d+/app$"))
        expect(page.locator("#tenant-name")).to_have_text(f"Tenant {second.slug}")
        expect(page.locator("#tenant-role")).to_have_text("Client")
        expect(page.locator("#app-error")).to_be_hidden()
        assert "#" not in page.url
        shoot(page, "2-landed-on-the-other-host")
    finally:
        page.context.close()


def test_a_tenants_public_page_has_services_news_contact_and_booking(
    browser: Browser, live: LiveServer, shop: Shop, db: Database, shoot: Shoot
) -> None:
    from tests.factories import make_service

    make_service(db, shop.tenant.id, name="Window cleaning", price=4500)
    page = new_page(browser, live.host_url(f"{shop.tenant.slug}.localhost"))
    try:
        page.goto("/")
        expect(page.locator("#public-name")).to_have_text(f"Tenant {shop.tenant.slug}")
        expect(page.locator("#services-list")).to_contain_text("Window cleaning")
        expect(page.locator("#services-list")).to_contain_text("£45.00")
        expect(page.locator("#posts-list")).to_contain_text("No news yet.")
        page.get_by_label("Your name").fill("Pat Visitor")
        page.get_by_label("Your email").fill("not-an-email")
        page.get_by_label("Message", exact=True).fill("Do you clean conservatories?")
        page.get_by_role("button", name="Send message").click()
        expect(page.locator("[data-field=email] .field-error")).to_be_visible()
        page.get_by_label("Your email").fill("pat@example.test")
        page.get_by_role("button", name="Send message").click()
        expect(page.locator("#contact-sent")).to_be_visible()
        shoot(page, "public-page")
        page.locator("#book-entry").click()
        expect(page).to_have_url(re.compile(r"/login\?next=/app/book$"))
        # A newcomer creates an account from the tenant's pages and is its client.
        page.get_by_role("link", name="Create an account").click()
        page.wait_for_selector("#signup-form")
        expect(page.locator("#login-brand")).to_have_text(f"Tenant {shop.tenant.slug}")
        page.get_by_label("Your name").fill("Pat Visitor")
        page.get_by_label("Email").fill(f"pat-{shop.tenant.slug}@example.test")
        page.get_by_label("Password").fill("short")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("[data-field=password] .field-error")).to_contain_text("10")
        page.get_by_label("Password").fill("a-long-enough-password")
        page.get_by_role("button", name="Create account").click()
        # Nobody is signed in until the address is confirmed from the e-mailed link
        # (test_account_mail_flows follows that link to the client's first page).
        expect(page.locator("#signup-sent")).to_contain_text("Check your inbox")
        shoot(page, "signed-up-link-mailed")
    finally:
        page.context.close()


# --- a client never sees another client's records ------------------------------------------


def test_a_client_never_sees_another_clients_records_in_any_page(
    shop: Shop, people: Callable[[Member], Page], db: Database, shoot: Shoot
) -> None:
    from tests.factories import make_service

    t = shop.tenant
    make_service(db, t.id, name="Gutter clearing", price=7000)
    first = people(t["client"])
    open_app(first, "/app/my-requests/new")
    first.get_by_label("Short summary").fill("Secret gutter of client one")
    first.get_by_role("button", name="Send request").click()
    expect(first.locator("#page-title")).to_have_text("Secret gutter of client one")
    request_id = first.url.rsplit("/", 1)[1]
    open_app(first, "/app/book")
    first.locator(".slot").first.click()
    first.get_by_role("button", name="Book this time").click()
    expect(first.locator("#booked")).to_be_visible()
    booking_id = first.request.get("/api/portal/bookings").json()["items"][0]["id"]
    owner = people(t["owner"])
    invoice = owner.request.post(
        "/api/admin/invoices",
        data={
            "client_id": str(t["client"].user_id),
            "lines": [{"description": "Secret work for client one", "unit_price_cents": 100}],
        },
    ).json()
    assert owner.request.post(f"/api/admin/invoices/{invoice['id']}/send").ok

    second = people(shop.client2)
    for path in ("/app", "/app/my-bookings", "/app/my-requests", "/app/my-invoices"):
        open_app(second, path)
        expect(second.locator("#view")).not_to_contain_text("Secret")
        expect(second.locator("#view")).not_to_contain_text(invoice["number"])
    # The same answer as for an id that exists nowhere (the area's 404 message).
    for path, missing in (
        (f"/app/my-requests/{request_id}", "No such service request."),
        (f"/app/my-invoices/{invoice['id']}", "No such invoice."),
    ):
        second.goto(path)
        expect(second.locator("#view .error")).to_have_text(missing)
        second.goto(path.rsplit("/", 1)[0] + f"/{uuid.uuid4()}")
        expect(second.locator("#view .error")).to_have_text(missing)
        expect(second.locator("#view")).not_to_contain_text("Secret")
    # Admin pages are not pages for a client at all, and their API says no.
    for path in ("/app/bookings", f"/app/bookings/{booking_id}", "/app/clients", "/app/invoices"):
        second.goto(path)
        expect(second.locator("#view h1")).to_have_text("Page not found")
    assert second.request.get(f"/api/admin/bookings/{booking_id}").status == 403
    shoot(second, "second-client-sees-nothing-of-the-first")
    # The first client still sees their own.
    open_app(first, "/app/my-invoices")
    expect(first.locator("table.data")).to_contain_text(invoice["number"])


# --- the menu follows the role's permissions -------------------------------------------


def test_the_menu_offers_only_the_pages_the_role_can_open(
    shop: Shop, people: Callable[[Member], Page], shoot: Shoot
) -> None:
    """Staff hold neither the contact inbox nor the permission matrix by default; when
    the owner takes bookings away from staff, the staff member's menu loses them too."""
    t = shop.tenant
    owner, staff = people(t["owner"]), people(t["staff"])
    nav = owner.locator("#nav")
    for label in ("Bookings", "Inbox", "Permissions"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_count(1)
    nav = staff.locator("#nav")
    expect(nav.get_by_role("link", name="Bookings", exact=True)).to_have_count(1)
    for label in ("Inbox", "Permissions"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_count(0)
    staff.goto("/app/inbox")  # typed by hand: the page says why, in words
    expect(staff.locator("#view .error")).to_have_text(
        "Your role does not allow this. Ask an owner or admin."
    )
    staff_now = owner.request.put(
        "/api/admin/permissions/staff", data={"permissions": ["requests.read"]}
    )
    assert staff_now.ok, staff_now.text()
    open_app(staff, "/app")
    nav = staff.locator("#nav")
    expect(nav.get_by_role("link", name="Requests", exact=True)).to_have_count(1)
    for label in ("Bookings", "Schedule", "Invoices", "Team"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_count(0)
    shoot(staff, "staff-menu-after-the-owner-narrowed-the-role")


# --- staff in the field start with their own day ---------------------------------------------


def _morning_zone() -> str:
    """A fixed-offset zone where it is about 06:00 now, so two visits fit later today
    whenever the test runs."""
    from datetime import UTC, datetime

    k = (6 - datetime.now(UTC).hour + 12) % 24 - 12  # UTC+k, in -12..11
    return "Etc/GMT" if k == 0 else f"Etc/GMT{'-' if k > 0 else '+'}{abs(k)}"


def test_staff_see_their_own_visits_today_first(
    db: Database, browser: Browser, live_url: str, shoot: Shoot
) -> None:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from tests.factories import make_service

    zone = _morning_zone()
    t = make_tenant(db, roles=("owner", "staff", "client"))
    colleague = make_user(db)
    add_member(db, tenant_id=t.id, user_id=colleague.user_id, role="staff")
    with tenant_context(TenantContext(tenant_id=t.id)), db.session() as s:
        s.add(BookingSettings(timezone=zone, min_notice_minutes=0))
    service = make_service(db, t.id, name="Boiler service")
    day = datetime.now(ZoneInfo(zone)).date()
    owner = new_page(browser, live_url)
    staff = new_page(browser, live_url)
    try:
        sign_in(owner, t["owner"])
        for hour, who in ((10, t["staff"].user_id), (11, colleague.user_id)):
            starts = datetime.combine(day, time(hour), ZoneInfo(zone))
            made = owner.request.post(
                "/api/admin/bookings",
                data={
                    "client_id": str(t["client"].user_id),
                    "service_id": str(service),
                    "assignee_id": str(who),
                    "starts_at": starts.isoformat(),
                },
            )
            assert made.ok, made.text()
        sign_in(staff, t["staff"])
        today = staff.locator("section.card", has_text="Your visits today")
        expect(today.locator("li.appointment")).to_have_count(1)
        expect(today.locator("li.appointment")).to_contain_text("10:00")
        expect(today.get_by_role("link", name="1 more visit by the team today")).to_be_visible()
        shoot(staff, "staff-dashboard")
        open_app(owner, "/app")  # the owner sees the whole day
        whole = owner.locator("section.card", has_text="Today,")
        expect(whole.locator("li.appointment")).to_have_count(2)
    finally:
        owner.context.close()
        staff.context.close()

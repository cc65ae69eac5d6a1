"""The page shells over HTTP: which page a host gets, what the sign-in page lists,
security headers, the CSRF token in the page, and the order of the lists."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import TenantFixture, make_service, make_tenant
from tests.helpers import login


def test_a_tenant_host_gets_its_public_page_and_a_sign_in_page_with_only_its_accounts(
    app: Any, tenant_a: TenantFixture
) -> None:
    with TestClient(app, base_url=f"http://{tenant_a.slug}.localhost") as host:
        home = host.get("/", follow_redirects=False)
        assert home.status_code == 200 and 'data-page="public"' in home.text
        assert f'data-host-tenant="{tenant_a.slug}"' in home.text
        page = host.get("/login").text
        assert "consultant@demo.test" in page  # a member of every demo tenant
        assert "owner@acme.test" not in page and "owner@globex.test" not in page
        name = host.get("/api/public/tenant").json()
        assert name == {
            "slug": tenant_a.slug, "name": f"Tenant {tenant_a.slug}",
            "timezone": "UTC", "currency": "USD",
        }  # fmt: skip
    with TestClient(app) as neutral:
        assert neutral.get("/", follow_redirects=False).headers["location"] == "/login"
        page = neutral.get("/login").text
        assert "owner@acme.test" in page and "owner@globex.test" in page
        assert neutral.get("/api/public/tenant").status_code == 404


def test_pages_carry_a_strict_policy_and_the_sessions_csrf_token_only_when_signed_in(
    app: Any, tenant_a: TenantFixture
) -> None:
    with TestClient(app) as browser:
        anonymous = browser.get("/login")
        csp = anonymous.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert 'name="csrf-token"' not in anonymous.text
        login(browser, tenant_a["owner"])
        shell = browser.get("/app/bookings/new")
        assert shell.status_code == 200
        assert re.search(r'<meta name="csrf-token" content="[\w-]{20,}">', shell.text)
        assert browser.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")


def test_every_e_mailed_link_opens_a_page_with_its_form(app: Any) -> None:
    """The account mails link to ``/verify-email``, ``/reset-password`` and
    ``/accept-invitation`` (``auth.tokens.PAGES``): each is a page, not a 404, whose script
    posts the token to the API; the sign-in page leads to ``/forgot-password``."""
    from tenantry.auth.tokens import PAGES

    forms = {"/verify-email": "verify", "/reset-password": "reset",
             "/accept-invitation": "invitation", "/forgot-password": "forgot"}  # fmt: skip
    assert set(PAGES.values()) <= set(forms)
    with TestClient(app) as browser:
        for path, form in forms.items():
            r = browser.get(f"{path}?token=abc")
            assert r.status_code == 200, path
            assert f'data-form="{form}"' in r.text
        assert 'href="/forgot-password"' in browser.get("/login").text


def test_signed_out_app_pages_go_to_sign_in_and_come_back(app: Any) -> None:
    with TestClient(app) as browser:
        r = browser.get("/app/invoices/123?x=1", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fapp%2Finvoices%2F123%3Fx%3D1"


def test_lists_sort_both_ways(app: Any, db: Any) -> None:
    tenant = make_tenant(db, roles=("owner", "staff", "client"))
    service = make_service(db, tenant.id)
    with TestClient(app) as owner:
        login(owner, tenant["owner"])
        day = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
        for offset in (3, 5):
            r = owner.post(
                "/api/admin/bookings",
                json={
                    "client_id": str(tenant["client"].user_id),
                    "service_id": str(service),
                    "starts_at": (day + timedelta(days=offset)).isoformat(),
                },
            )
            assert r.status_code == 201, r.text
            owner.post(
                "/api/admin/invoices",
                json={
                    "client_id": str(tenant["client"].user_id),
                    "lines": [{"description": f"Visit {offset}", "unit_price_cents": 100}],
                },
            )
            owner.post(
                "/api/admin/service-requests",
                json={
                    "client_id": str(tenant["client"].user_id),
                    "service_id": str(service),
                    "title": f"Request {offset}",
                },
            )

        def order(path: str, **params: str) -> list[str]:
            items = owner.get(path, params=params).json()["items"]
            return [i.get("starts_at") or i.get("number") or i["title"] for i in items]

        soonest = order("/api/admin/bookings")
        assert (
            soonest == sorted(soonest)
            and order("/api/admin/bookings", order="latest") == soonest[::-1]
        )
        newest = order("/api/admin/invoices")
        assert order("/api/admin/invoices", order="oldest") == newest[::-1]
        assert order("/api/admin/service-requests") == ["Request 5", "Request 3"]
        assert order("/api/admin/service-requests", order="oldest") == ["Request 3", "Request 5"]
        assert owner.get("/api/admin/bookings", params={"order": "sideways"}).status_code == 422

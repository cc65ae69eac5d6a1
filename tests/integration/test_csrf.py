"""CSRF: a page on a sibling subdomain (same site, so Lax cookies ride along) cannot
change anything; our own pages can, with the session's token; API clients that are
not browsers are unaffected."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tenantry.auth import cookies, csrf
from tests.factories import TenantFixture
from tests.helpers import login

LOGOUT_ALL = "/api/auth/logout-all"


def _token(client: TestClient, settings: Any) -> str:
    session = cookies.decode_session(settings, client.cookies[cookies.SESSION_COOKIE])
    assert session is not None
    return csrf.token_for(settings, session)


def test_a_sibling_subdomain_cannot_post_with_the_victims_cookies(
    app: Any, settings: Any, tenant_a: TenantFixture
) -> None:
    with TestClient(app) as victim:
        login(victim, tenant_a["owner"])
        token = _token(victim, settings)
        for origin in ("http://evil.localhost", "http://globex.localhost", "null"):
            # Even a stolen-looking token does not help a foreign origin.
            response = victim.post(
                "/api/admin/services",
                json={"slug": "x", "name": "X", "price_cents": 1, "duration_minutes": 30},
                headers={"Origin": origin, "X-CSRF-Token": token},
            )
            assert response.status_code == 403, origin
            assert response.json()["error"]["code"] == "csrf_origin_mismatch"
        # A form post with no body (the classic forgery) is refused the same way.
        forged = victim.post(
            LOGOUT_ALL,
            headers={"Origin": "http://evil.localhost", "Sec-Fetch-Site": "same-site"},
        )
        assert forged.status_code == 403
        # And the session still works: nothing was done.
        assert victim.get("/api/auth/me").status_code == 200


def test_sec_fetch_site_same_site_is_refused_without_origin(
    app: Any, tenant_a: TenantFixture
) -> None:
    with TestClient(app) as victim:
        login(victim, tenant_a["owner"])
        response = victim.post(LOGOUT_ALL, headers={"Sec-Fetch-Site": "same-site"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_origin_mismatch"


def test_a_browser_request_from_our_origin_needs_the_sessions_token(
    app: Any, settings: Any, tenant_a: TenantFixture
) -> None:
    with TestClient(app) as browser:
        login(browser, tenant_a["owner"])
        own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
        missing = browser.post(LOGOUT_ALL, headers=own)
        assert missing.status_code == 403
        assert missing.json()["error"]["code"] == "csrf_token_invalid"
        wrong = browser.post(LOGOUT_ALL, headers={**own, "X-CSRF-Token": "A" * 32})
        assert wrong.status_code == 403
        # The token is in the page our server renders for this session.
        page = browser.get("/app")
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert match and match.group(1) == _token(browser, settings)
        ok = browser.post(LOGOUT_ALL, headers={**own, "X-CSRF-Token": match.group(1)})
        assert ok.status_code == 200, ok.text


def test_the_token_is_bound_to_the_session(
    app: Any, settings: Any, tenant_a: TenantFixture
) -> None:
    own = {"Origin": "http://testserver"}
    with TestClient(app) as first, TestClient(app) as second:
        login(first, tenant_a["owner"])
        login(second, tenant_a["admin"])
        others = _token(second, settings)
        response = first.post(LOGOUT_ALL, headers={**own, "X-CSRF-Token": others})
        assert response.status_code == 403


def test_signing_in_from_our_page_needs_no_token_but_a_foreign_origin_is_refused(
    app: Any, tenant_a: TenantFixture
) -> None:
    owner = tenant_a["owner"]
    body = {"email": owner.email, "password": owner.password}
    with TestClient(app) as browser:
        ours = browser.post("/api/auth/login", json=body, headers={"Origin": "http://testserver"})
        assert ours.status_code == 200
    with TestClient(app) as browser:
        theirs = browser.post(
            "/api/auth/login", json=body, headers={"Origin": "http://evil.localhost"}
        )
        assert theirs.status_code == 403


def test_api_clients_without_browser_headers_are_unaffected(
    app: Any, tenant_a: TenantFixture
) -> None:
    with TestClient(app) as script:
        login(script, tenant_a["owner"])
        assert script.post(LOGOUT_ALL).status_code == 200

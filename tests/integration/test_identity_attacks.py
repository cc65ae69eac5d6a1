"""Issue 8, replayed as the attacker did it: findings 1, 2, 7, 8, 10 (users and
memberships) and 11, each over HTTP through the real app (or as SQL as the app role),
each getting the safe outcome.

Every test names its finding. The takeover chain and the temporary-password chain of
finding 1 are tests of their own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenantry.app import create_app
from tenantry.isolation.scopes import iter_api_routes
from tenantry.ops.cli import proxy_options
from tenantry.settings import Settings
from tenantry.tenants.lifecycle import provision_tenant
from tests.conftest import login
from tests.ports import uvicorn_thread


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def settings_with(settings: Settings, **changes: object) -> Settings:
    base = {
        "data_dir": settings.data_dir,
        "database_name": settings.database_name,
        "database_url": settings.database_url,
        "secret_keys": settings.secret_keys,
        "login_failures_per_account": "1000/minute",
        "login_attempts_per_address": "10000/minute",
    }
    return Settings(**{**base, **changes})  # type: ignore[arg-type]


@contextlib.contextmanager
def served(app: FastAPI, settings: Settings) -> Iterator[str]:
    """The app behind a real uvicorn, configured exactly as ``tenantry serve`` does."""
    with uvicorn_thread(app, **proxy_options(settings)) as url:
        yield url


# --------------------------------------------------------------------- finding 11: hosts


def test_finding_11_a_single_label_host_is_refused_not_neutral(client):
    for path in ("/healthz", "/api/auth/me", "/login", "/api/admin/invoices/"):
        r = client.get(path, headers={"host": "evil"})
        assert r.status_code == 400 and code(r) == "host_not_allowed", (path, r.status_code)
        assert "location" not in r.headers
        assert r.json()["error"]["request_id"] == r.headers["x-request-id"]


def test_finding_11_the_trailing_slash_is_a_404_never_a_redirect_built_from_the_host(client):
    for host in ("localhost", "127.0.0.1:8000"):
        r = client.get("/api/admin/invoices/", headers={"host": host}, follow_redirects=False)
        assert r.status_code == 404 and code(r) == "not_found", r.status_code
        assert "location" not in r.headers


def test_no_route_of_the_app_redirects_to_the_host_it_was_asked_for(app, client):
    """Every GET path of the app with a trailing slash added (and without): no answer is
    a redirect whose target names the request's host."""
    paths = sorted(
        {
            path.replace("{", "").replace("}", "")
            for route, path in iter_api_routes(app)
            if "GET" in (route.methods or ())
        }
    )
    assert len(paths) > 30
    for path in paths:
        for variant in (path, path.rstrip("/") + "/"):
            r = client.get(variant, headers={"host": "localhost"}, follow_redirects=False)
            location = r.headers.get("location", "")
            assert not (300 <= r.status_code < 400 and "//" in location), (variant, location)


def test_unknown_hosts_are_refused_and_known_ones_served(client, db):
    domain = f"shop-{time.time_ns()}.example.org"
    slug = f"t-host-{time.time_ns() % 10**9}"
    tenant = provision_tenant(db, slug=slug, name="Hosted", primary_domain=domain)
    refused = {
        "evil": 400,
        "evil.example.com": 400,
        "10.0.0.1": 400,
        "[2001:db8::1]": 400,
        "a.b.localhost": 400,
        "no-such-tenant-zz.localhost": 404,
        "bad_host!": 400,
    }
    for host, status in refused.items():
        r = client.get("/healthz", headers={"host": host})
        assert r.status_code == status, (host, r.status_code)
        assert code(r) == ("unknown_tenant_host" if status == 404 else "host_not_allowed")
    served_hosts = ("localhost", "localhost:8000", "127.0.0.1", "[::1]:8000",
                    f"{tenant.slug}.localhost", domain, domain.upper() + ":443")  # fmt: skip
    for host in served_hosts:
        assert client.get("/healthz", headers={"host": host}).status_code == 200, host
    current = client.get("/api/public/services", headers={"host": domain})
    assert current.status_code == 200


# ------------------------------------------------------------------ finding 7: proxies


def test_finding_7_a_spoofed_x_forwarded_for_from_loopback_buys_no_fresh_budget(settings, db):
    strict = settings_with(settings, login_attempts_per_address="3/minute")
    with served(create_app(strict, db), strict) as url, httpx.Client(base_url=url) as http:
        statuses = [
            http.post(
                "/api/auth/login",
                json={"email": f"nobody{i}@example.test", "password": "x"},
                headers={"x-forwarded-for": f"203.0.113.{i}"},
            ).status_code
            for i in range(5)
        ]
    assert statuses == [401, 401, 401, 429, 429]


def test_a_configured_proxy_is_believed(settings, db):
    """The other side of finding 7: with TENANTRY_TRUSTED_PROXIES naming the proxy, the
    forwarded address is the client's (each has its own budget)."""
    strict = settings_with(
        settings, login_attempts_per_address="2/minute", trusted_proxies="127.0.0.1/32"
    )
    with served(create_app(strict, db), strict) as url, httpx.Client(base_url=url) as http:

        def attempt(address: str) -> int:
            return http.post(
                "/api/auth/login",
                json={"email": "nobody@example.test", "password": "x"},
                headers={"x-forwarded-for": address},
            ).status_code

        assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
        assert attempt("203.0.113.2") == 401


def test_finding_7_ten_wrong_passwords_do_not_lock_the_owner_out(settings, db, tenant_a):
    """The attacker (one address) exhausts the account's budget — from their address
    only. The owner, from theirs, signs in at once; the attacker stays refused even
    with the right password."""
    strict = settings_with(settings, login_failures_per_account="10 per 15 minutes")
    app = create_app(strict, db)
    victim = tenant_a["staff"]
    wrong = {"email": victim.email, "password": "guess-guess-guess"}
    with TestClient(app, client=("198.51.100.66", 40000)) as attacker:
        statuses = [attacker.post("/api/auth/login", json=wrong).status_code for _ in range(12)]
        assert statuses == [401] * 10 + [429, 429]
        right = attacker.post(
            "/api/auth/login", json={"email": victim.email, "password": victim.password}
        )
        assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
    with TestClient(app, client=("192.0.2.10", 40001)) as owner:
        login(owner, victim)
        assert owner.get("/api/tenant/current").status_code == 200


def test_a_correct_password_clears_the_owners_own_failures(settings, db, tenant_a):
    strict = settings_with(settings, login_failures_per_account="3 per 15 minutes")
    member = tenant_a["admin"]
    with TestClient(create_app(strict, db), client=("192.0.2.20", 40002)) as c:
        for _ in range(2):
            c.post("/api/auth/login", json={"email": member.email, "password": "typo-typo"})
        login(c, member)
        for _ in range(2):
            c.post("/api/auth/login", json={"email": member.email, "password": "typo-typo"})
        login(c, member)  # 4 failures in the window, but never 3 in a row: not locked


# ------------------------------------------------------------- finding 8: logout revokes


def test_finding_8_cookies_saved_before_logout_fail_at_once(app, tenant_a):
    member = tenant_a["staff"]
    with TestClient(app) as browser, TestClient(app) as phone:
        login(browser, member)
        login(phone, member)
        saved = dict(browser.cookies)
        assert browser.post("/api/auth/logout").status_code == 200
        with TestClient(app, cookies=saved) as thief:
            for path in ("/api/tenant/current", "/api/admin/services", "/api/auth/me"):
                r = thief.get(path)
                assert r.status_code == 403 and code(r) == "session_revoked", (path, r.text)
            r = thief.post("/api/tenant/switch", json={"tenant": tenant_a.slug})
            assert r.status_code == 403 and code(r) == "session_revoked"
        # Only that browser's session ended: the phone is still signed in.
        assert phone.get("/api/tenant/current").status_code == 200


def test_logout_of_one_session_cannot_end_another_users_session(app, tenant_a):
    with TestClient(app) as mine, TestClient(app) as theirs:
        login(mine, tenant_a["staff"])
        login(theirs, tenant_a["admin"])
        mine.post("/api/auth/logout")
        assert theirs.get("/api/tenant/current").status_code == 200

"""Walls 1-3 over HTTP through the real app and real PostgreSQL."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from tenantry.app import create_app
from tenantry.auth.models import Membership
from tenantry.isolation import signing
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.scopes import UnscopedRouteError, assert_routes_scoped
from tenantry.settings import Settings
from tenantry.tenants.lifecycle import add_member, set_tenant_status
from tests.factories import make_user
from tests.helpers import code, login

CURRENT = "/api/tenant/current"


def test_login_sets_both_cookies_and_scopes_to_the_members_tenant(client, tenant_a):
    login(client, tenant_a["staff"])
    assert client.cookies.get("tenantry_session") and client.cookies.get("tenant_sig")
    body = client.get(CURRENT).json()
    assert body["tenant"]["id"] == str(tenant_a.id)
    assert body["role"] == "staff"


def test_spoofed_tenant_headers_change_nothing(client, tenant_a, tenant_b):
    login(client, tenant_a["staff"])
    r = client.get(
        CURRENT,
        headers={
            "x-tenant-id": str(tenant_b.id),
            "x-tenant-slug": tenant_b.slug,
            "x-user-id": str(tenant_b["owner"].user_id),
        },
    )
    assert r.status_code == 200
    assert r.json()["tenant"]["id"] == str(tenant_a.id)
    assert r.headers["x-user-id"] == str(tenant_a["staff"].user_id)


def test_request_id_is_kept_when_well_formed_and_replaced_otherwise(client):
    assert (
        client.get("/healthz", headers={"x-request-id": "abc-123-XYZ"}).headers["x-request-id"]
        == "abc-123-XYZ"
    )
    replaced = client.get("/healthz", headers={"x-request-id": "bad id\twith junk"})
    assert replaced.headers["x-request-id"] != "bad id\twith junk"
    assert len(replaced.headers["x-request-id"]) == 32


def test_no_cookies_is_not_authenticated(client):
    r = client.get(CURRENT)
    assert r.status_code == 401 and code(r) == "not_authenticated"
    assert r.json()["error"]["request_id"] == r.headers["x-request-id"]


def test_invalid_signature_alone_is_403_as_the_seed_requires(client):
    client.cookies.set("tenant_sig", "invalid")
    r = client.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_sig_invalid"


def test_missing_signature_is_refused(client, tenant_a):
    login(client, tenant_a["staff"])
    client.cookies.delete("tenant_sig")
    r = client.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_sig_missing"


def test_tampered_signature_is_refused(client, tenant_a):
    login(client, tenant_a["staff"])
    sig = client.cookies.get("tenant_sig")
    client.cookies.set("tenant_sig", sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"))
    r = client.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_sig_invalid"


def test_truncated_signature_is_refused(client, tenant_a):
    login(client, tenant_a["staff"])
    client.cookies.set("tenant_sig", client.cookies.get("tenant_sig")[:40])
    assert code(client.get(CURRENT)) == "tenant_sig_invalid"


def test_expired_signature_is_refused(client, settings, tenant_a):
    member = tenant_a["staff"]
    login(client, member)
    old = signing.sign(
        settings.signing_keys,
        tenant_id=tenant_a.id,
        user_id=member.user_id,
        session_version=1,
        issued_at=int(time.time()) - settings.tenant_sig_max_age_s - 10,
    )
    client.cookies.set("tenant_sig", old)
    r = client.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_sig_invalid"


def test_another_users_signature_is_a_mismatch(app, tenant_a):
    with TestClient(app) as mine, TestClient(app) as theirs:
        login(mine, tenant_a["staff"])
        login(theirs, tenant_a["admin"])
        mine.cookies.set("tenant_sig", theirs.cookies.get("tenant_sig"))
        r = mine.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_mismatch"


def test_another_tenants_signature_with_my_session_is_a_mismatch(app, tenant_a, tenant_b):
    with TestClient(app) as a, TestClient(app) as b:
        login(a, tenant_a["staff"])
        login(b, tenant_b["staff"])
        a.cookies.set("tenant_sig", b.cookies.get("tenant_sig"))
        r = a.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_mismatch"


def test_my_signature_with_the_session_of_a_user_of_another_tenant_is_a_mismatch(
    app, tenant_a, tenant_b
):
    with TestClient(app) as a, TestClient(app) as b:
        login(a, tenant_a["staff"])
        login(b, tenant_b["staff"])
        b.cookies.set("tenant_sig", a.cookies.get("tenant_sig"))
        r = b.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_mismatch"


def test_the_host_of_another_tenant_is_a_mismatch(client, tenant_a, tenant_b):
    login(client, tenant_a["staff"])
    r = client.get(CURRENT, headers={"host": f"{tenant_b.slug}.localhost"})
    assert r.status_code == 403 and code(r) == "tenant_mismatch"
    ok = client.get(CURRENT, headers={"host": f"{tenant_a.slug}.localhost"})
    assert ok.status_code == 200


def test_an_unknown_tenant_host_is_404(client):
    r = client.get("/healthz", headers={"host": "no-such-tenant-zz.localhost"})
    assert r.status_code == 404 and code(r) == "unknown_tenant_host"


def _app_with_keys(settings: Settings, db, keys: str) -> FastAPI:
    other = Settings(
        data_dir=settings.data_dir,
        database_name=settings.database_name,
        database_url=settings.database_url,
        secret_keys=keys,
        login_failures_per_account="1000/minute",
        login_attempts_per_address="10000/minute",
    )
    return create_app(other, db)


def test_rotated_key_still_verifies_and_removed_key_is_refused(settings, db, tenant_a):
    old_key, new_key = "old-key-0123456789abcdefghij", "new-key-0123456789abcdefghij"
    before = _app_with_keys(settings, db, old_key)
    rotated = _app_with_keys(settings, db, f"{new_key},{old_key}")
    removed = _app_with_keys(settings, db, new_key)
    with TestClient(before) as c:
        login(c, tenant_a["staff"])
        jar = dict(c.cookies)
    with TestClient(rotated, cookies=jar) as c:
        assert c.get(CURRENT).status_code == 200
    with TestClient(removed, cookies=jar) as c:
        r = c.get(CURRENT)
        assert r.status_code == 403 and code(r) == "tenant_sig_invalid"


def test_switching_to_a_tenant_you_do_not_belong_to_is_403(client, tenant_a, tenant_b):
    login(client, tenant_a["staff"])
    r = client.post("/api/tenant/switch", json={"tenant": tenant_b.slug})
    assert r.status_code == 403 and code(r) == "not_a_member"
    assert client.get(CURRENT).json()["tenant"]["id"] == str(tenant_a.id)


def test_switching_to_an_unknown_tenant_looks_the_same_as_a_foreign_one(client, tenant_a):
    login(client, tenant_a["staff"])
    r = client.post("/api/tenant/switch", json={"tenant": "no-such-tenant-xyz"})
    assert r.status_code == 403 and code(r) == "not_a_member"


def test_switching_to_a_tenant_you_belong_to_reissues_cookies(client, db, tenant_a, tenant_b):
    member = tenant_a["staff"]
    add_member(db, tenant_id=tenant_b.id, user_id=member.user_id, role="admin")
    login(client, member, tenant=tenant_a.slug)
    old_sig = client.cookies.get("tenant_sig")
    r = client.post("/api/tenant/switch", json={"tenant": tenant_b.slug})
    assert r.status_code == 200 and r.json()["active_tenant"]["id"] == str(tenant_b.id)
    assert client.cookies.get("tenant_sig") != old_sig
    body = client.get(CURRENT).json()
    assert body["tenant"]["id"] == str(tenant_b.id) and body["role"] == "admin"


def test_login_without_a_tenant_never_picks_one_silently(client, db, tenant_a, tenant_b):
    user = make_user(db)
    add_member(db, tenant_id=tenant_a.id, user_id=user.user_id, role="staff")
    add_member(db, tenant_id=tenant_b.id, user_id=user.user_id, role="staff")
    r = login(client, user)
    assert r.json()["active_tenant"] is None and len(r.json()["memberships"]) == 2
    assert code(client.get(CURRENT)) == "no_active_tenant"
    client.post("/api/tenant/switch", json={"tenant": tenant_b.slug})
    # The last active tenant is remembered for the next sign-in.
    client.post("/api/auth/logout")
    assert login(client, user).json()["active_tenant"]["id"] == str(tenant_b.id)


def test_login_on_a_tenant_host_enters_that_tenant(client, db, tenant_a, tenant_b):
    user = make_user(db)
    add_member(db, tenant_id=tenant_a.id, user_id=user.user_id, role="staff")
    add_member(db, tenant_id=tenant_b.id, user_id=user.user_id, role="client")
    r = login(client, user, headers={"host": f"{tenant_b.slug}.localhost"})
    assert r.json()["active_tenant"]["slug"] == tenant_b.slug and r.json()["role"] == "client"


def test_wrong_password_is_401_and_says_nothing_more(client, tenant_a):
    r = client.post("/api/auth/login", json={"email": tenant_a["staff"].email, "password": "x"})
    assert r.status_code == 401 and code(r) == "invalid_credentials"
    r2 = client.post("/api/auth/login", json={"email": "nobody@nowhere.test", "password": "x"})
    assert r2.status_code == 401 and r2.json()["error"]["message"] == r.json()["error"]["message"]


def test_logout_all_kills_old_cookies_on_the_very_next_request(app, tenant_a):
    member = tenant_a["staff"]
    with TestClient(app) as laptop, TestClient(app) as phone:
        login(laptop, member)
        login(phone, member)
        assert laptop.post("/api/auth/logout-all").status_code == 200
        r = phone.get(CURRENT)
        assert r.status_code == 403 and code(r) == "session_revoked"
        assert code(phone.get("/api/auth/me")) == "session_revoked"
        login(phone, member)
        assert phone.get(CURRENT).status_code == 200


def test_a_removed_membership_is_refused_on_the_very_next_request(client, db, tenant_a):
    member = tenant_a["staff"]
    login(client, member)
    assert client.get(CURRENT).status_code == 200
    with tenant_context(TenantContext(tenant_id=tenant_a.id)), db.session() as s:
        s.execute(
            update(Membership).where(Membership.user_id == member.user_id).values(status="removed")
        )
    r = client.get(CURRENT)
    assert r.status_code == 403 and code(r) == "not_a_member"


def test_a_suspended_tenants_members_are_refused(client, db, tenant_a):
    login(client, tenant_a["owner"])
    set_tenant_status(db, tenant_a.id, "suspended")
    r = client.get(CURRENT)
    assert r.status_code == 403 and code(r) == "tenant_suspended"
    set_tenant_status(db, tenant_a.id, "active")
    assert client.get(CURRENT).status_code == 200


def test_me_lists_only_my_own_memberships(client, db, tenant_a, tenant_b):
    member = tenant_a["staff"]
    add_member(db, tenant_id=tenant_b.id, user_id=member.user_id, role="client")
    login(client, member, tenant=tenant_a.slug)
    me = client.get("/api/auth/me").json()
    assert {m["tenant_slug"] for m in me["memberships"]} == {tenant_a.slug, tenant_b.slug}
    assert me["user"]["email"] == member.email
    assert me["active_tenant"]["slug"] == tenant_a.slug


def test_register_signs_nobody_in(client, tenant_a):
    """Sign-up is confirmed from an e-mailed link (tests/integration/api/test_accounts.py);
    until then there is no session and no membership."""
    r = client.post(
        "/api/auth/register",
        json={"email": "New.Client@Example.test", "password": "long-enough-pw"},
        headers={"host": f"{tenant_a.slug}.localhost"},
    )
    assert r.status_code == 202, r.text
    assert not client.cookies
    assert client.get(CURRENT).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "long-enough-pw", "tenant": "x"},
        {"email": "a@b.test", "password": "short", "tenant": "x"},
        {"password": "long-enough-pw"},
    ],
)
def test_register_with_invalid_input_is_422(client, body):
    r = client.post("/api/auth/register", json=body)
    assert r.status_code == 422 and code(r) == "validation_error"
    assert r.json()["error"]["details"]


def test_login_is_rate_limited_per_account_with_retry_after(settings, db, tenant_a):
    strict = Settings(
        data_dir=settings.data_dir,
        database_name=settings.database_name,
        database_url=settings.database_url,
        secret_keys=settings.secret_keys,
        login_failures_per_account="3/minute",
        login_attempts_per_address="100/minute",
    )
    with TestClient(create_app(strict, db)) as c:
        body = {"email": tenant_a["staff"].email, "password": "wrong"}
        statuses = [c.post("/api/auth/login", json=body).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        r = c.post("/api/auth/login", json={**body, "password": tenant_a["staff"].password})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # Another account from the same address is not blocked by this account's limit.
        other = {"email": tenant_a["admin"].email, "password": tenant_a["admin"].password}
        assert c.post("/api/auth/login", json=other).status_code == 200


def test_login_is_rate_limited_per_address(settings, db, tenant_a):
    strict = Settings(
        data_dir=settings.data_dir,
        database_name=settings.database_name,
        database_url=settings.database_url,
        secret_keys=settings.secret_keys,
        login_failures_per_account="100/minute",
        login_attempts_per_address="3/minute",
    )
    with TestClient(create_app(strict, db)) as c:
        for i in range(3):
            c.post("/api/auth/login", json={"email": f"u{i}@x.test", "password": "x"})
        r = c.post("/api/auth/login", json={"email": "u9@x.test", "password": "x"})
        assert r.status_code == 429 and code(r) == "rate_limited"


def test_cookies_are_httponly_lax_and_host_prefixed_under_https(settings, db, tenant_a):
    secure = Settings(
        data_dir=settings.data_dir,
        database_name=settings.database_name,
        database_url=settings.database_url,
        secret_keys=settings.secret_keys,
        https=True,
    )
    with TestClient(create_app(secure, db), base_url="https://testserver") as c:
        r = login(c, tenant_a["staff"])
        set_cookies = r.headers.get_list("set-cookie")
        assert any(h.startswith("__Host-tenantry_session=") for h in set_cookies)
        assert any(h.startswith("__Host-tenant_sig=") for h in set_cookies)
        for h in set_cookies:
            low = h.lower()
            assert "httponly" in low and "samesite=lax" in low and "secure" in low
            assert "domain=" not in low and "path=/" in low
        assert c.get(CURRENT).status_code == 200


def test_a_route_without_a_scope_stops_the_app_from_starting(app):
    bare = FastAPI()
    bare.router.routes.extend(app.router.routes)

    @bare.get("/api/admin/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(UnscopedRouteError, match="/api/admin/forgotten"):
        assert_routes_scoped(bare)


def test_a_tenant_scoped_route_without_the_tenant_dependency_is_refused():
    from tenantry.isolation.scopes import scoped_router

    bare = FastAPI()
    router = scoped_router("tenant")

    @router.get("/api/admin/sneaky")
    def sneaky() -> dict[str, str]:
        return {}

    bare.include_router(router)
    with pytest.raises(UnscopedRouteError, match="tenant-context dependency"):
        assert_routes_scoped(bare)


def test_every_route_of_the_app_declares_a_scope(app):
    assert_routes_scoped(app)
    spec = app.openapi()
    error_ref = "#/components/schemas/ErrorResponse"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("x-tenantry-scope") in ("tenant", "public", "system"), (method, path)
            if op["x-tenantry-scope"] == "tenant":
                assert {"401", "403", "422"} <= set(op["responses"]), (method, path)
            for status, response in op["responses"].items():
                if status[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": error_ref}, (method, path, status)


def test_an_active_session_a_minute_old_is_reissued_with_a_fresh_seen_time(
    client, tenant_a, settings
):
    """The idle timeout slides: a request on a session last seen over a minute ago gets
    the same session back with ``seen_at`` now (every other field unchanged)."""
    import dataclasses

    from tenantry.auth.cookies import SESSION_COOKIE, decode_session, encode_session

    login(client, tenant_a["staff"])
    current = decode_session(settings, client.cookies.get(SESSION_COOKIE))
    assert current is not None
    old = dataclasses.replace(current, seen_at=int(time.time()) - 120)
    client.cookies.set(SESSION_COOKIE, encode_session(settings, old))
    r = client.get(CURRENT)
    assert r.status_code == 200
    fresh = decode_session(settings, r.cookies.get(SESSION_COOKIE))
    assert fresh is not None and fresh.seen_at >= int(time.time()) - 5
    assert dataclasses.replace(fresh, seen_at=old.seen_at) == old

"""Switching tenant on a tenant host: the old host issues a one-time hand-off, only
the chosen tenant's host accepts it, once, within a minute, while the user's
sessions are valid. Attacks first: forged, expired, replayed, wrong host, revoked."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tenantry.handoff import tokens
from tenantry.tenants.lifecycle import add_member
from tests.factories import Member, TenantFixture, make_tenant, make_user


@pytest.fixture
def world(db: Any) -> tuple[TenantFixture, TenantFixture, TenantFixture, Member]:
    a, b, c = (make_tenant(db, roles=("owner",)) for _ in range(3))
    user = make_user(db)
    add_member(db, tenant_id=a.id, user_id=user.user_id, role="staff")
    add_member(db, tenant_id=b.id, user_id=user.user_id, role="client")
    return a, b, c, user


def on(app: Any, tenant: TenantFixture | None) -> TestClient:
    return TestClient(
        app, base_url=f"http://{tenant.slug}.localhost" if tenant else "http://testserver"
    )


def signed_in(app: Any, tenant: TenantFixture, user: Member) -> TestClient:
    client = on(app, tenant)
    r = client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    assert r.status_code == 200, r.text
    return client


def start(client: TestClient, slug: str) -> str:
    r = client.post("/api/tenant/handoff", json={"tenant": slug})
    assert r.status_code == 200, r.text
    return str(r.json()["url"])


def redeem(client: TestClient, token: str) -> Any:
    return client.post("/api/auth/handoff", json={"token": token})


def test_switching_on_a_tenant_host_moves_the_browser_to_the_chosen_tenants_host(
    app: Any, world: Any
) -> None:
    a, b, _, user = world
    with signed_in(app, a, user) as old_host:
        url = start(old_host, b.slug)
    parts = urlsplit(url)
    assert parts.netloc == f"{b.slug}.localhost" and parts.path == "/auth/handoff"
    assert parts.query == ""  # the token travels in the fragment only
    with on(app, b) as new_host:
        assert new_host.get("/api/tenant/current").status_code == 401
        r = redeem(new_host, parts.fragment)
        assert r.status_code == 200, r.text
        current = new_host.get("/api/tenant/current").json()
        assert current["tenant"]["slug"] == b.slug and current["role"] == "client"


def test_a_token_works_once(app: Any, world: Any) -> None:
    a, b, _, user = world
    with signed_in(app, a, user) as old_host:
        token = urlsplit(start(old_host, b.slug)).fragment
    with on(app, b) as first, on(app, b) as second:
        assert redeem(first, token).status_code == 200
        replay = redeem(second, token)
        assert replay.status_code == 403 and replay.json()["error"]["code"] == "handoff_invalid"
        assert second.get("/api/tenant/current").status_code == 401


def test_a_token_is_refused_on_any_other_host(app: Any, world: Any) -> None:
    a, b, c, user = world
    with signed_in(app, a, user) as old_host:
        token = urlsplit(start(old_host, b.slug)).fragment
    for other in (a, c, None):
        with on(app, other) as wrong:
            r = redeem(wrong, token)
            assert r.status_code == 403, other
            assert r.json()["error"]["code"] == "handoff_invalid"
    with on(app, b) as right:  # refusals elsewhere did not burn it
        assert redeem(right, token).status_code == 200


def test_forged_and_expired_tokens_are_refused(app: Any, settings: Any, world: Any) -> None:
    a, b, _, user = world
    with signed_in(app, a, user) as old_host:
        token = urlsplit(start(old_host, b.slug)).fragment
    body, mac = token.rsplit(".", 1)
    # Another user's id under the same MAC; a MAC under a key we do not hold.
    forged = [
        token.replace(str(user.user_id), str(a["owner"].user_id)),
        f"{body}.{mac[::-1]}",
        tokens.issue(
            [b"not-our-key-0123456789abcdef"],
            user_id=user.user_id,
            tenant_id=b.id,
            session_version=1,
        ),
        "v1.garbage",
    ]
    expired = tokens.issue(
        settings.signing_keys, user_id=user.user_id, tenant_id=b.id, session_version=1,
        now=time.time() - tokens.MAX_AGE_S - 10,
    )  # fmt: skip
    with on(app, b) as new_host:
        for bad in [*forged, expired]:
            r = redeem(new_host, bad)
            assert r.status_code in (403, 422), bad
            assert new_host.get("/api/tenant/current").status_code == 401


def test_signing_out_everywhere_kills_a_token_not_yet_used(app: Any, world: Any) -> None:
    a, b, _, user = world
    with signed_in(app, a, user) as old_host:
        token = urlsplit(start(old_host, b.slug)).fragment
        assert old_host.post("/api/auth/logout-all").status_code == 200
    with on(app, b) as new_host:
        assert redeem(new_host, token).status_code == 403


def test_only_ones_own_tenants_and_only_signed_in(app: Any, world: Any) -> None:
    a, _, c, user = world
    with signed_in(app, a, user) as old_host:
        r = old_host.post("/api/tenant/handoff", json={"tenant": c.slug})
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    with on(app, a) as anonymous:
        assert anonymous.post("/api/tenant/handoff", json={"tenant": a.slug}).status_code == 401

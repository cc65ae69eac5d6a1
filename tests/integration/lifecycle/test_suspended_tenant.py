"""A suspended tenant is refused on every route: a walk over the app's own route table
(new routes are covered without edits), as the tenant's owner and client and through
the tenant's host for public routes."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient

from tenantry.auth.dependencies import require_host_tenant
from tenantry.isolation.scopes import _calls, iter_api_routes, route_scope
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.lifecycle import reactivate_tenant, suspend_tenant
from tests.factories import make_tenant
from tests.helpers import login

ACTOR = Actor(label="test:suspension")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def _routes(app, scope: str):  # type: ignore[no-untyped-def]
    for route, path in iter_api_routes(app):
        if route_scope(route) != scope:
            continue
        if scope == "public" and require_host_tenant not in list(_calls(route.dependant)):
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, path


@pytest.fixture
def suspended(db, app):  # type: ignore[no-untyped-def]
    tenant = make_tenant(db)
    clients = {}
    for role in ("owner", "client"):
        c = TestClient(app)
        login(c, tenant[role], tenant=tenant.slug)
        assert c.get("/api/tenant/current").status_code == 200
        clients[role] = c
    suspend_tenant(db, slug=tenant.slug, reason="walk every route while suspended", actor=ACTOR)
    yield tenant, clients
    for c in clients.values():
        c.close()


def test_every_tenant_route_answers_tenant_suspended(db, app, settings, suspended):
    tenant, clients = suspended
    walked, wrong = 0, []
    routes = list(_routes(app, "tenant"))
    assert len(routes) > 50  # the walk sees the whole app, not a hand-picked list
    for role, client in clients.items():
        for method, path in routes:
            r = client.request(method, _concrete(path), json={})
            walked += 1
            code = (
                r.json().get("error", {}).get("code")
                if r.headers.get("content-type", "").startswith("application/json")
                else None
            )
            if r.status_code != 403 or code != "tenant_suspended":
                wrong.append(f"{role} {method} {path}: {r.status_code} {code}")
    assert not wrong, f"{len(wrong)} of {walked} requests not refused:\n" + "\n".join(wrong)

    host = {"host": f"{tenant.slug}.{settings.base_domain}"}
    public = list(_routes(app, "public"))
    assert public, "no public per-tenant route found"
    with TestClient(app) as anonymous:
        for method, path in public:
            r = anonymous.request(method, _concrete(path), json={}, headers=host)
            assert r.status_code in (403, 404), f"{method} {path}: {r.status_code}"

    # Signing in to it, or switching to it, is refused too.
    with TestClient(app) as fresh:
        owner = tenant["owner"]
        r = fresh.post(
            "/api/auth/login",
            json={"email": owner.email, "password": owner.password, "tenant": tenant.slug},
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_suspended"

    reactivate_tenant(db, slug=tenant.slug, reason="walk finished, back to work", actor=ACTOR)
    assert clients["owner"].get("/api/tenant/current").status_code == 200
    assert clients["client"].get("/api/tenant/current").status_code == 200

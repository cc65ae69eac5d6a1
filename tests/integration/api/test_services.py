"""Services: admin catalogue CRUD, catalogue settings, public catalogue."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.services.models import Service
from tests.factories import make_tenant
from tests.helpers import code, login
from tests.integration.api._logged_in import SignedIn, host, unique

SERVICES = "/api/admin/services"
SETTINGS = "/api/admin/settings/services"
PUBLIC = "/api/public/services"


@pytest.fixture(scope="module")
def acme(db):
    return make_tenant(db)


@pytest.fixture(scope="module")
def globex(db):
    return make_tenant(db)


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


def body(slug: str | None = None, **kw):
    return {
        "slug": slug or unique("svc"),
        "name": kw.pop("name", "Deep clean"),
        "price_cents": 12000,
        "duration_minutes": 120,
        **kw,
    }


def seed(db, tenant, *specs: tuple[str, bool]) -> dict[str, uuid.UUID]:
    """Rows written directly as ``tenant`` (setup for the other tenant, listings)."""
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        rows = [Service(slug=slug, name=slug.title(), price_cents=1000, duration_minutes=30,
                        active=active) for slug, active in specs]  # fmt: skip
        s.add_all(rows)
        s.flush()
        return {r.slug: r.id for r in rows}


def snapshot(db, tenant) -> list[tuple]:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        rows = s.scalars(select(Service).order_by(Service.slug)).all()
        return [(r.id, r.slug, r.name, r.price_cents, r.active, r.updated_at) for r in rows]


# --- admin CRUD ---------------------------------------------------------------------


def test_admin_creates_gets_updates_and_retires_a_service(as_, acme):
    admin = as_(acme["admin"])
    created = admin.post(SERVICES, json=body(description="Top to bottom"))
    assert created.status_code == 201, created.text
    service = created.json()
    assert service["active"] is True and "tenant_id" not in service

    got = admin.get(f"{SERVICES}/{service['id']}")
    assert got.status_code == 200 and got.json()["description"] == "Top to bottom"

    patched = admin.patch(f"{SERVICES}/{service['id']}", json={"price_cents": 15000})
    assert patched.status_code == 200
    assert patched.json()["price_cents"] == 15000 and patched.json()["name"] == "Deep clean"

    assert admin.delete(f"{SERVICES}/{service['id']}").status_code == 204
    assert admin.get(f"{SERVICES}/{service['id']}").json()["active"] is False  # kept, retired


def test_list_filters_by_active_and_paginates(client, db):
    tenant_a = make_tenant(db, roles=("staff",))  # fresh: the listing must be exact
    seed(db, tenant_a, ("alpha", True), ("beta", False), ("gamma", True))
    login(client, tenant_a["staff"])
    everything = client.get(SERVICES).json()
    assert [s["slug"] for s in everything["items"]] == ["alpha", "beta", "gamma"]
    assert everything["total"] == 3
    active = client.get(SERVICES, params={"active": "true"}).json()
    assert [s["slug"] for s in active["items"]] == ["alpha", "gamma"]
    retired = client.get(SERVICES, params={"active": "false"}).json()
    assert [s["slug"] for s in retired["items"]] == ["beta"]
    second = client.get(SERVICES, params={"limit": 1, "offset": 1}).json()
    assert [s["slug"] for s in second["items"]] == ["beta"] and second["total"] == 3


def test_list_shows_only_the_callers_tenant(as_, db, acme, globex):
    mine, theirs = unique("mine"), unique("theirs")
    seed(db, acme, (mine, True))
    seed(db, globex, (theirs, True))
    slugs = {
        s["slug"] for s in as_(acme["admin"]).get(SERVICES, params={"limit": 200}).json()["items"]
    }
    assert mine in slugs and theirs not in slugs


def test_duplicate_slug_in_a_tenant_is_409_slug_taken_but_another_tenant_may_use_it(
    as_, db, acme, globex
):
    slug = unique("dup")
    seed(db, globex, (slug, True))
    admin = as_(acme["admin"])
    assert admin.post(SERVICES, json=body(slug)).status_code == 201
    before = snapshot(db, acme)
    again = admin.post(SERVICES, json=body(slug, name="Other"))
    assert again.status_code == 409 and code(again) == "slug_taken"
    assert snapshot(db, acme) == before


def test_renaming_to_a_taken_slug_is_409_and_changes_nothing(as_, db, acme):
    one, two = unique("one"), unique("two")
    ids = seed(db, acme, (one, True), (two, True))
    before = snapshot(db, acme)
    r = as_(acme["admin"]).patch(f"{SERVICES}/{ids[two]}", json={"slug": one, "name": "New"})
    assert r.status_code == 409 and code(r) == "slug_taken"
    assert snapshot(db, acme) == before


def test_staff_may_read_services_but_not_write_them(as_, db, acme):
    slug = unique("alpha")
    sid = seed(db, acme, (slug, True))[slug]
    staff = as_(acme["staff"])
    assert staff.get(SERVICES).status_code == 200
    assert staff.get(f"{SERVICES}/{sid}").status_code == 200
    assert staff.get(SETTINGS).status_code == 200
    before = snapshot(db, acme)
    for response in (
        staff.post(SERVICES, json=body()),
        staff.patch(f"{SERVICES}/{sid}", json={"name": "X"}),
        staff.delete(f"{SERVICES}/{sid}"),
        staff.put(SETTINGS, json={"services": [{"id": str(sid), "active": False}]}),
    ):
        assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, acme) == before


def test_a_client_cannot_read_the_admin_catalogue(as_, db, acme):
    slug = unique("alpha")
    sid = seed(db, acme, (slug, True))[slug]
    member = as_(acme["client"])
    for response in (member.get(SERVICES), member.get(f"{SERVICES}/{sid}"), member.get(SETTINGS)):
        assert response.status_code == 403 and code(response) == "role_required"


def test_signed_out_caller_is_401(client):
    assert client.get(SERVICES).status_code == 401
    assert client.get(SETTINGS).status_code == 401


def test_owner_of_a_gets_404_for_a_service_of_b_and_b_is_unchanged(as_, db, acme, globex):
    slug = unique("theirs")
    theirs = seed(db, globex, (slug, True))[slug]
    before = snapshot(db, globex)
    owner = as_(acme["owner"])
    for response in (
        owner.get(f"{SERVICES}/{theirs}"),
        owner.patch(f"{SERVICES}/{theirs}", json={"name": "Hijacked"}),
        owner.delete(f"{SERVICES}/{theirs}"),
    ):
        assert response.status_code == 404 and code(response) == "not_found"
    missing = owner.get(f"{SERVICES}/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert (
        missing.json()["error"]["message"]
        == owner.get(f"{SERVICES}/{theirs}").json()["error"]["message"]
    )
    assert snapshot(db, globex) == before


def test_invalid_service_input_is_422_and_nothing_is_stored(as_, db, acme, globex):
    admin = as_(acme["admin"])
    before_a, before_b = snapshot(db, acme), snapshot(db, globex)
    bad = [
        body("Not A Slug"),
        body("-dash"),
        body(price_cents=-1),
        body(duration_minutes=0),
        body(name="   "),
        body(tenant_id=str(globex.id)),
        {"slug": "x"},
    ]
    for payload in bad:
        r = admin.post(SERVICES, json=payload)
        assert r.status_code == 422 and code(r) == "validation_error", payload
    assert snapshot(db, acme) == before_a
    assert snapshot(db, globex) == before_b


def test_invalid_patch_is_422_and_changes_nothing(as_, db, acme):
    slug = unique("alpha")
    sid = seed(db, acme, (slug, True))[slug]
    before = snapshot(db, acme)
    admin = as_(acme["admin"])
    for payload in ({"name": None}, {"price_cents": -5}, {"slug": "UPPER"}, {"unknown": 1}):
        assert admin.patch(f"{SERVICES}/{sid}", json=payload).status_code == 422, payload
    assert admin.get(f"{SERVICES}/not-a-uuid").status_code == 422
    assert admin.get(SERVICES, params={"limit": 0}).status_code == 422
    assert admin.get(SERVICES, params={"active": "maybe"}).status_code == 422
    assert snapshot(db, acme) == before


# --- catalogue settings ----------------------------------------------------------------


def test_catalogue_settings_show_every_service_and_set_flags_in_bulk(client, db):
    tenant_a = make_tenant(db, roles=("admin",))  # fresh: the view must be exact
    ids = seed(db, tenant_a, ("alpha", True), ("beta", False), ("gamma", True))
    login(client, tenant_a["admin"])
    view = client.get(SETTINGS).json()
    assert [(s["slug"], s["active"]) for s in view["services"]] == [
        ("alpha", True),
        ("beta", False),
        ("gamma", True),
    ]
    assert view["active_count"] == 2
    r = client.put(
        SETTINGS,
        json={
            "services": [
                {"id": str(ids["alpha"]), "active": False},
                {"id": str(ids["beta"]), "active": True},
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert [(s["slug"], s["active"]) for s in r.json()["services"]] == [
        ("alpha", False),
        ("beta", True),
        ("gamma", True),
    ]
    assert client.get(SETTINGS).json() == r.json()


def test_catalogue_put_naming_a_service_of_b_is_404_and_changes_nothing_anywhere(
    as_, db, acme, globex
):
    mine_slug, theirs_slug = unique("mine"), unique("theirs")
    mine = seed(db, acme, (mine_slug, True))[mine_slug]
    theirs = seed(db, globex, (theirs_slug, True))[theirs_slug]
    before_a, before_b = snapshot(db, acme), snapshot(db, globex)
    r = as_(acme["admin"]).put(
        SETTINGS,
        json={
            "services": [{"id": str(mine), "active": False}, {"id": str(theirs), "active": False}]
        },
    )
    assert r.status_code == 404 and code(r) == "not_found"
    assert snapshot(db, acme) == before_a
    assert snapshot(db, globex) == before_b


def test_catalogue_put_with_invalid_body_is_422(as_, db, acme):
    slug = unique("mine")
    mine = seed(db, acme, (slug, True))[slug]
    before = snapshot(db, acme)
    admin = as_(acme["admin"])
    for payload in (
        {"services": []},
        {"services": [{"id": str(mine), "active": False}, {"id": str(mine), "active": True}]},
        {"services": [{"id": "nope", "active": False}]},
        {"services": [{"id": str(mine)}]},
    ):
        assert admin.put(SETTINGS, json=payload).status_code == 422, payload
    assert snapshot(db, acme) == before


# --- public catalogue ------------------------------------------------------------------


def test_public_catalogue_lists_only_active_services_of_the_host_tenant(client, db, acme, globex):
    active, retired, theirs = unique("active"), unique("retired"), unique("theirs")
    seed(db, acme, (active, True), (retired, False))
    seed(db, globex, (theirs, True))
    r = client.get(PUBLIC, headers=host(acme), params={"limit": 200})
    assert r.status_code == 200
    slugs = {s["slug"] for s in r.json()["items"]}
    assert active in slugs and retired not in slugs and theirs not in slugs
    assert all("active" not in s for s in r.json()["items"])
    theirs_view = client.get(PUBLIC, headers=host(globex), params={"limit": 200}).json()
    assert theirs in {s["slug"] for s in theirs_view["items"]}


def test_public_catalogue_follows_the_host_not_a_signed_in_users_tenant(as_, db, acme, globex):
    mine, theirs = unique("mine"), unique("theirs")
    seed(db, acme, (mine, True))
    seed(db, globex, (theirs, True))
    r = as_(acme["owner"]).get(PUBLIC, headers=host(globex), params={"limit": 200})
    slugs = {s["slug"] for s in r.json()["items"]}
    assert theirs in slugs and mine not in slugs


def test_public_catalogue_needs_a_tenant_host(client):
    assert client.get(PUBLIC).status_code == 404
    assert client.get(PUBLIC, headers={"host": "no-such-tenant.localhost"}).status_code == 404


def test_demo_services_are_believable_and_idempotent(db):
    from tenantry.kit.demo import DemoTenant
    from tenantry.services.demo import fill
    from tenantry.tenants.lifecycle import TenantRef

    tenant = make_tenant(db, roles=("owner",))
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, "Demo"), {"owner": tenant["owner"].user_id})
    fill(db, demo)
    first = snapshot(db, tenant)
    fill(db, demo)
    assert snapshot(db, tenant) == first
    assert 5 <= len(first) <= 6 and any(not row[4] for row in first)


def test_catalogue_order_is_set_in_bulk_and_followed_by_every_listing(client, db):
    tenant = make_tenant(db, roles=("admin",))  # fresh: the order must be exact
    login(client, tenant["admin"])
    ids = {}
    for slug in ("alpha", "beta", "gamma"):
        r = client.post(SERVICES, json=body(slug))
        ids[slug] = r.json()["id"]
    assert [r["position"] for r in client.get(SERVICES).json()["items"]] == [0, 1, 2]
    r = client.put(SETTINGS, json={"services": [
        {"id": ids["gamma"], "position": 0},
        {"id": ids["alpha"], "position": 5, "active": False},
        {"id": ids["beta"], "position": 3},
    ]})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [(s["slug"], s["active"]) for s in r.json()["services"]] == [
        ("gamma", True), ("beta", True), ("alpha", False)]  # fmt: skip
    assert [s["slug"] for s in client.get(SERVICES).json()["items"]] == ["gamma", "beta", "alpha"]
    public = client.get(PUBLIC, headers=host(tenant)).json()["items"]
    assert [s["slug"] for s in public] == ["gamma", "beta"]
    bad = client.put(SETTINGS, json={"services": [{"id": ids["beta"], "position": -1}]})
    assert bad.status_code == 422
    assert [s["slug"] for s in client.get(SETTINGS).json()["services"]] == [
        "gamma", "beta", "alpha"]  # fmt: skip


def test_a_client_lists_the_bookable_services_of_their_own_tenant_on_any_host(
    as_, db, acme, globex
):
    active, retired, theirs = unique("active"), unique("retired"), unique("theirs")
    seed(db, acme, (active, True), (retired, False))
    seed(db, globex, (theirs, True))
    r = as_(acme["client"]).get("/api/portal/services", params={"limit": 200})
    assert r.status_code == 200
    slugs = {s["slug"] for s in r.json()["items"]}
    assert active in slugs and retired not in slugs and theirs not in slugs
    assert as_(acme["staff"]).get("/api/portal/services").status_code == 403

"""Posts: admin drafting and publishing; the public list and page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.posts.models import Post
from tests.factories import make_tenant
from tests.helpers import code, login
from tests.integration.api._logged_in import SignedIn, host, unique

POSTS = "/api/admin/posts"
PUBLIC = "/api/public/posts"


@pytest.fixture(scope="module")
def acme(db):
    return make_tenant(db)


@pytest.fixture(scope="module")
def globex(db):
    return make_tenant(db, roles=("owner", "admin"))


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


def seed(db, tenant, slug: str, *, published: bool = False, days_ago: int = 1) -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        post = Post(author_id=tenant["owner"].user_id, slug=slug, title=slug.title(),
                    body="Hello", status="published" if published else "draft",
                    published_at=datetime.now(UTC) - timedelta(days=days_ago)
                    if published else None)  # fmt: skip
        s.add(post)
        s.flush()
        return post.id


def snapshot(db, tenant) -> list[tuple]:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        rows = s.scalars(select(Post).order_by(Post.slug)).all()
        return [(r.id, r.slug, r.title, r.body, r.status, r.published_at) for r in rows]


# --- admin ------------------------------------------------------------------------------


def test_admin_drafts_edits_publishes_unpublishes_and_deletes_a_post(as_, acme):
    admin = as_(acme["admin"])
    slug = unique("hello")
    created = admin.post(POSTS, json={"slug": slug, "title": "Hello", "body": "First words"})
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["status"] == "draft" and post["published_at"] is None
    assert post["author_id"] == str(acme["admin"].user_id)

    edited = admin.patch(f"{POSTS}/{post['id']}", json={"title": "Hello, world"})
    assert edited.status_code == 200 and edited.json()["title"] == "Hello, world"

    published = admin.post(f"{POSTS}/{post['id']}/publish")
    assert published.status_code == 200
    assert published.json()["status"] == "published" and published.json()["published_at"]

    unpublished = admin.post(f"{POSTS}/{post['id']}/unpublish")
    assert unpublished.status_code == 200 and unpublished.json()["status"] == "draft"

    assert admin.get(f"{POSTS}/{post['id']}").status_code == 200
    assert admin.delete(f"{POSTS}/{post['id']}").status_code == 204
    assert admin.get(f"{POSTS}/{post['id']}").status_code == 404


def test_admin_list_includes_drafts_filters_by_status_and_paginates(client, db):
    tenant = make_tenant(db, roles=("owner",))  # fresh: the listing must be exact
    seed(db, tenant, "old", published=True, days_ago=10)
    seed(db, tenant, "new", published=True, days_ago=1)
    seed(db, tenant, "draft")
    login(client, tenant["owner"])
    everything = client.get(POSTS).json()
    assert everything["total"] == 3
    assert {p["slug"] for p in everything["items"]} == {"old", "new", "draft"}
    published = client.get(POSTS, params={"status": "published"}).json()
    assert [p["slug"] for p in published["items"]] == ["new", "old"]
    drafts = client.get(POSTS, params={"status": "draft"}).json()
    assert [p["slug"] for p in drafts["items"]] == ["draft"]
    page = client.get(POSTS, params={"status": "published", "limit": 1, "offset": 1}).json()
    assert [p["slug"] for p in page["items"]] == ["old"] and page["total"] == 2


def test_publishing_twice_or_unpublishing_a_draft_is_409_invalid_transition(as_, db, acme):
    admin = as_(acme["admin"])
    draft = seed(db, acme, unique("draft"))
    published = seed(db, acme, unique("live"), published=True)
    before = snapshot(db, acme)
    r = admin.post(f"{POSTS}/{published}/publish")
    assert r.status_code == 409 and code(r) == "invalid_transition"
    r = admin.post(f"{POSTS}/{draft}/unpublish")
    assert r.status_code == 409 and code(r) == "invalid_transition"
    assert snapshot(db, acme) == before


def test_duplicate_slug_is_409_slug_taken_but_another_tenant_may_use_it(as_, db, acme, globex):
    slug = unique("same")
    seed(db, globex, slug)
    admin = as_(acme["admin"])
    assert admin.post(POSTS, json={"slug": slug, "title": "Mine"}).status_code == 201
    other = seed(db, acme, unique("other"))
    before = snapshot(db, acme)
    r = admin.post(POSTS, json={"slug": slug, "title": "Again"})
    assert r.status_code == 409 and code(r) == "slug_taken"
    r = admin.patch(f"{POSTS}/{other}", json={"slug": slug})
    assert r.status_code == 409 and code(r) == "slug_taken"
    assert snapshot(db, acme) == before


def test_staff_may_read_posts_but_not_write_them(as_, db, acme):
    staff = as_(acme["staff"])
    post = seed(db, acme, unique("post"))
    assert staff.get(POSTS).status_code == 200
    assert staff.get(f"{POSTS}/{post}").status_code == 200
    before = snapshot(db, acme)
    for response in (
        staff.post(POSTS, json={"slug": unique("x"), "title": "X"}),
        staff.patch(f"{POSTS}/{post}", json={"title": "X"}),
        staff.post(f"{POSTS}/{post}/publish"),
        staff.post(f"{POSTS}/{post}/unpublish"),
        staff.delete(f"{POSTS}/{post}"),
    ):
        assert response.status_code == 403 and code(response) == "role_required"
    assert snapshot(db, acme) == before


def test_a_client_cannot_see_drafts_through_admin_routes(as_, db, acme):
    member = as_(acme["client"])
    post = seed(db, acme, unique("draft"))
    for response in (member.get(POSTS), member.get(f"{POSTS}/{post}")):
        assert response.status_code == 403 and code(response) == "role_required"


def test_admin_of_a_gets_404_for_every_route_on_a_post_of_b_and_b_is_unchanged(
    as_, db, acme, globex
):
    draft = seed(db, globex, unique("draft"))
    live = seed(db, globex, unique("live"), published=True)
    before = snapshot(db, globex)
    owner = as_(acme["owner"])
    for response in (
        owner.get(f"{POSTS}/{draft}"),
        owner.patch(f"{POSTS}/{draft}", json={"title": "Hijacked"}),
        owner.post(f"{POSTS}/{draft}/publish"),
        owner.post(f"{POSTS}/{live}/unpublish"),
        owner.delete(f"{POSTS}/{live}"),
        owner.get(f"{POSTS}/{uuid.uuid4()}"),
    ):
        assert response.status_code == 404 and code(response) == "not_found"
    assert snapshot(db, globex) == before


def test_invalid_post_input_is_422_and_nothing_is_stored(as_, db, acme, globex):
    admin = as_(acme["admin"])
    post = seed(db, acme, unique("post"))
    before_a, before_b = snapshot(db, acme), snapshot(db, globex)
    for payload in (
        {"slug": "Bad Slug", "title": "x"},
        {"slug": unique("ok"), "title": " "},
        {"slug": unique("ok")},
        {"slug": unique("ok"), "title": "x", "author_id": str(globex["owner"].user_id)},
        {"slug": unique("ok"), "title": "x", "status": "published"},
        {"slug": unique("ok"), "title": "x", "tenant_id": str(globex.id)},
    ):
        r = admin.post(POSTS, json=payload)
        assert r.status_code == 422 and code(r) == "validation_error", payload
    for payload in ({"title": None}, {"slug": "UPPER"}, {"status": "published"}):
        assert admin.patch(f"{POSTS}/{post}", json=payload).status_code == 422, payload
    assert admin.get(POSTS, params={"status": "archived"}).status_code == 422
    assert admin.get(f"{POSTS}/not-a-uuid").status_code == 422
    assert snapshot(db, acme) == before_a
    assert snapshot(db, globex) == before_b


# --- public -----------------------------------------------------------------------------


def test_public_posts_show_only_published_posts_of_the_host_tenant(client, db, acme, globex):
    live, draft, theirs = unique("live"), unique("draft"), unique("theirs")
    seed(db, acme, live, published=True)
    seed(db, acme, draft)
    seed(db, globex, theirs, published=True)
    r = client.get(PUBLIC, headers=host(acme), params={"limit": 200})
    assert r.status_code == 200
    slugs = {p["slug"] for p in r.json()["items"]}
    assert live in slugs and draft not in slugs and theirs not in slugs
    assert all(set(p) == {"slug", "title", "body", "published_at"} for p in r.json()["items"])


def test_public_post_page_serves_published_posts_and_hides_drafts_and_other_tenants(
    client, db, acme, globex
):
    live, draft, theirs = unique("live"), unique("draft"), unique("theirs")
    seed(db, acme, live, published=True)
    seed(db, acme, draft)
    seed(db, globex, theirs, published=True)
    ok = client.get(f"{PUBLIC}/{live}", headers=host(acme))
    assert ok.status_code == 200 and ok.json()["slug"] == live
    for slug in (draft, theirs, "no-such-post"):
        r = client.get(f"{PUBLIC}/{slug}", headers=host(acme))
        assert r.status_code == 404 and code(r) == "not_found"
    assert client.get(f"{PUBLIC}/{theirs}", headers=host(globex)).status_code == 200
    assert client.get(f"{PUBLIC}/Not_A_Slug", headers=host(acme)).status_code == 422


def test_public_posts_need_a_tenant_host(client):
    assert client.get(PUBLIC).status_code == 404


def test_demo_posts_have_published_posts_and_a_draft_and_are_idempotent(db):
    from tenantry.kit.demo import DemoTenant
    from tenantry.posts.demo import fill
    from tenantry.tenants.lifecycle import TenantRef

    tenant = make_tenant(db, roles=("owner",))
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, "Demo"), {"owner": tenant["owner"].user_id})
    fill(db, demo)
    first = snapshot(db, tenant)
    fill(db, demo)
    assert snapshot(db, tenant) == first
    statuses = [row[4] for row in first]
    assert statuses.count("draft") == 1 and statuses.count("published") >= 2

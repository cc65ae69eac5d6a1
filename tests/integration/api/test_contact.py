"""Contact: the public form (per-tenant rows, rate limit) and the admin inbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenantry.contact.models import ContactSubmission
from tenantry.isolation.context import TenantContext, tenant_context
from tests.factories import make_tenant
from tests.helpers import code, login
from tests.integration.api._logged_in import SignedIn, host

CONTACT = "/api/public/contact"
INBOX = "/api/admin/contact-submissions"


@pytest.fixture(scope="module")
def acme(db):
    return make_tenant(db)


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


def message(**kw):
    return {
        "name": "Pat Visitor",
        "email": "pat@example.test",
        "message": "Can you come on Tuesday?",
        **kw,
    }


def seed(db, tenant, *names: str) -> None:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add_all(ContactSubmission(name=n, email=f"{n}@example.test", message="Hi")
                  for n in names)  # fmt: skip


def stored(db, tenant) -> list[tuple[str, str, str]]:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        rows = s.scalars(select(ContactSubmission).order_by(ContactSubmission.created_at)).all()
        return [(r.name, r.email, r.message) for r in rows]


def test_a_visitor_message_is_stored_for_the_host_tenant_only(client, db):
    a, b = make_tenant(db, roles=()), make_tenant(db, roles=())
    r = client.post(CONTACT, json=message(email="Pat@Example.TEST"), headers=host(a))
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"id", "received_at"}
    assert stored(db, a) == [("Pat Visitor", "pat@example.test", "Can you come on Tuesday?")]
    assert stored(db, b) == []


def test_a_tenant_id_in_the_body_is_refused_and_nothing_is_stored(client, db):
    a, b = make_tenant(db, roles=()), make_tenant(db, roles=())
    r = client.post(CONTACT, json=message(tenant_id=str(b.id)), headers=host(a))
    assert r.status_code == 422
    assert stored(db, a) == [] and stored(db, b) == []


def test_invalid_contact_input_is_422_and_nothing_is_stored(client, db):
    a = make_tenant(db, roles=())
    for payload in (
        message(email="not-an-email"),
        message(name="  "),
        message(message=""),
        message(message="x" * 5001),
        {"name": "Pat"},
    ):
        r = client.post(CONTACT, json=payload, headers=host(a))
        assert r.status_code == 422 and code(r) == "validation_error", payload
    assert stored(db, a) == []


def test_contact_form_needs_a_tenant_host(client):
    assert client.post(CONTACT, json=message()).status_code == 404


def test_contact_form_is_rate_limited_per_address_and_tenant(client, db, settings):
    a, b = make_tenant(db, roles=()), make_tenant(db, roles=())
    allowed = int(settings.contact_form_rate.split("/")[0])
    for _ in range(allowed):
        assert client.post(CONTACT, json=message(), headers=host(a)).status_code == 201
    refused = client.post(CONTACT, json=message(name="One too many"), headers=host(a))
    assert refused.status_code == 429 and code(refused) == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert len(stored(db, a)) == allowed  # the refused message was not stored
    # Another tenant's form from the same address has its own budget.
    assert client.post(CONTACT, json=message(), headers=host(b)).status_code == 201


def test_admin_reads_the_inbox_newest_first_with_pagination(client, db):
    tenant = make_tenant(db, roles=("admin",))  # fresh: the listing must be exact
    seed(db, tenant, "first")
    seed(db, tenant, "second")
    seed(db, tenant, "third")
    login(client, tenant["admin"])
    r = client.get(INBOX)
    assert r.status_code == 200
    assert [m["name"] for m in r.json()["items"]] == ["third", "second", "first"]
    page = client.get(INBOX, params={"limit": 1, "offset": 2}).json()
    assert [m["name"] for m in page["items"]] == ["first"] and page["total"] == 3


def test_the_inbox_never_shows_another_tenants_messages(as_, db, acme):
    other = make_tenant(db, roles=())
    seed(db, other, "elsewhere")
    names = {
        m["name"] for m in as_(acme["owner"]).get(INBOX, params={"limit": 200}).json()["items"]
    }
    assert "elsewhere" not in names


def test_staff_and_clients_cannot_read_the_inbox(as_, acme):
    for role in ("staff", "client"):
        r = as_(acme[role]).get(INBOX)
        assert r.status_code == 403 and code(r) == "role_required"


def test_inbox_rejects_invalid_paging_and_needs_a_session(as_, client, acme):
    assert as_(acme["admin"]).get(INBOX, params={"limit": 500}).status_code == 422
    assert client.get(INBOX).status_code == 401


def test_demo_contact_submissions_are_idempotent(db):
    from tenantry.contact.demo import fill
    from tenantry.kit.demo import DemoTenant
    from tenantry.tenants.lifecycle import TenantRef

    tenant = make_tenant(db, roles=("owner",))
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, "Demo"), {"owner": tenant["owner"].user_id})
    fill(db, demo)
    first = stored(db, tenant)
    fill(db, demo)
    assert stored(db, tenant) == first and 2 <= len(first) <= 3

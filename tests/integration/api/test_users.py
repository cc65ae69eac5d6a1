"""Users: the tenant's searchable directory of active members."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from tenantry.auth.models import Membership
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenants.lifecycle import add_member, ensure_user
from tests.factories import PASSWORD, make_tenant
from tests.helpers import code
from tests.integration.api._logged_in import SignedIn

USERS = "/api/admin/users"


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


@pytest.fixture(scope="module")
def world(db):
    """Tenant A with its four members plus a named client, a removed member and a member
    shared with tenant B; tenant B with a member of its own."""
    a, b = make_tenant(db), make_tenant(db, roles=("owner",))
    tag = uuid.uuid4().hex[:6]
    named = ensure_user(db, email=f"zelda-{tag}@example.test", password=PASSWORD,
                        name="Zelda Quixote_100%")  # fmt: skip
    removed = ensure_user(db, email=f"gone-{tag}@example.test", password=PASSWORD, name="Gone")
    add_member(db, tenant_id=a.id, user_id=named, role="client")
    add_member(db, tenant_id=a.id, user_id=removed, role="staff")
    with tenant_context(TenantContext(tenant_id=a.id)), db.session() as s:
        s.execute(update(Membership).where(Membership.user_id == removed).values(status="removed"))
    add_member(db, tenant_id=b.id, user_id=a["staff"].user_id, role="admin")
    return {"a": a, "b": b, "named": named, "removed": removed, "tag": tag}


def emails(response) -> list[str]:
    return [u["email"] for u in response.json()["items"]]


def test_staff_lists_the_active_users_of_their_tenant_only(as_, world):
    a, b = world["a"], world["b"]
    r = as_(a["staff"], a.slug).get(USERS)
    assert r.status_code == 200
    listed = emails(r)
    assert set(listed) == {m.email for m in a.members.values()} | {
        f"zelda-{world['tag']}@example.test"
    }
    assert b["owner"].email not in listed and f"gone-{world['tag']}@example.test" not in listed
    assert listed == sorted(listed) and r.json()["total"] == 5
    shared = next(u for u in r.json()["items"] if u["email"] == a["staff"].email)
    assert shared["role"] == "staff"  # its role here, not its role in B
    assert set(shared) == {"id", "email", "name", "role", "member_since"}


def test_search_matches_email_or_name_case_insensitively(as_, world):
    staff = as_(world["a"]["staff"], world["a"].slug)
    assert emails(staff.get(USERS, params={"q": "ZELDA"})) == [f"zelda-{world['tag']}@example.test"]
    assert emails(staff.get(USERS, params={"q": "quixote"})) == [
        f"zelda-{world['tag']}@example.test"
    ]
    assert emails(staff.get(USERS, params={"q": world["a"]["owner"].email})) == [
        world["a"]["owner"].email
    ]


def test_search_treats_wildcards_literally(as_, world):
    staff = as_(world["a"]["staff"], world["a"].slug)
    assert emails(staff.get(USERS, params={"q": "_100%"})) == [f"zelda-{world['tag']}@example.test"]
    assert staff.get(USERS, params={"q": "%"}).json()["total"] == 1
    assert staff.get(USERS, params={"q": "z_e"}).json()["total"] == 0


def test_searching_for_another_tenants_user_finds_nothing(as_, world):
    r = as_(world["a"]["owner"]).get(USERS, params={"q": world["b"]["owner"].email})
    assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["items"] == []


def test_role_filter_and_pagination(as_, world):
    staff = as_(world["a"]["staff"], world["a"].slug)
    clients = staff.get(USERS, params={"role": "client"})
    assert set(emails(clients)) == {
        world["a"]["client"].email,
        f"zelda-{world['tag']}@example.test",
    }
    first = staff.get(USERS, params={"limit": 2}).json()
    second = staff.get(USERS, params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == 5
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second["items"]}


def test_a_client_cannot_list_users_and_signed_out_is_401(as_, client, world):
    r = as_(world["a"]["client"]).get(USERS)
    assert r.status_code == 403 and code(r) == "role_required"
    assert client.get(USERS).status_code == 401


def test_invalid_queries_are_422(as_, world):
    staff = as_(world["a"]["staff"], world["a"].slug)
    for params in ({"q": "x" * 101}, {"role": "boss"}, {"limit": 201}, {"offset": -1}):
        r = staff.get(USERS, params=params)
        assert r.status_code == 422 and code(r) == "validation_error", params


def test_a_user_of_two_tenants_sees_only_the_active_tenants_directory(as_, world):
    a, b = world["a"], world["b"]
    in_b = as_(a["staff"], b.slug).get(USERS)
    assert in_b.status_code == 200
    assert set(emails(in_b)) == {b["owner"].email, a["staff"].email}
    assert next(u["role"] for u in in_b.json()["items"] if u["email"] == a["staff"].email) == (
        "admin"
    )


def test_names_for_a_page_of_rows_by_id_never_another_tenants(as_, world):
    a, b = world["a"], world["b"]
    wanted = [a["client"].user_id, world["named"], b["owner"].user_id, world["removed"]]
    r = as_(a["staff"], a.slug).get(USERS, params={"id": [str(i) for i in wanted]})
    assert r.status_code == 200
    assert {u["id"] for u in r.json()["items"]} == {str(a["client"].user_id), str(world["named"])}
    too_many = [str(uuid.uuid4()) for _ in range(201)]
    assert as_(a["staff"], a.slug).get(USERS, params={"id": too_many}).status_code == 422

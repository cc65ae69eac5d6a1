"""Team: list, invite, change a role, remove; changes bite on the member's next request.
(Invitations from both sides, with mail: tests/integration/api/test_accounts.py.)"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tenantry.auth.models import Membership, User
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenants.lifecycle import add_member
from tests.factories import make_tenant
from tests.helpers import code, login
from tests.integration.api._logged_in import SignedIn

TEAM = "/api/admin/team-members"
INVITES = "/api/admin/invitations"
SERVICES = "/api/admin/services"


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


@pytest.fixture(scope="module")
def steady(db):
    """A tenant whose team only refused requests touch."""
    return make_tenant(db)


@pytest.fixture
def fresh(db):
    return make_tenant(db, roles=("owner", "admin", "staff"))


def memberships(db, tenant) -> dict[uuid.UUID, tuple[str, str]]:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return {m.user_id: (m.role, m.status) for m in s.scalars(select(Membership)).all()}


def users_with_email(db, email: str) -> int:
    with db.system_session(reason="test: count users by email") as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(User)
                .where(func.lower(User.email) == email.lower())
            )
            or 0
        )


def new_email() -> str:
    return f"invitee-{uuid.uuid4().hex[:8]}@example.test"


# --- list -------------------------------------------------------------------------------


def test_staff_lists_the_members_of_their_tenant_only(as_, steady, fresh):
    r = as_(steady["staff"]).get(TEAM)
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["email"] for i in items} == {m.email for m in steady.members.values()}
    assert {i["role"] for i in items} == {"owner", "admin", "staff", "client"}
    assert all(i["status"] == "active" and "name" in i for i in items)
    assert r.json()["total"] == 4
    only = as_(steady["staff"]).get(TEAM, params={"role": "client"}).json()["items"]
    assert [i["email"] for i in only] == [steady["client"].email]


def test_a_client_cannot_see_the_team_and_signed_out_is_401(as_, client, steady):
    r = as_(steady["client"]).get(TEAM)
    assert r.status_code == 403 and code(r) == "role_required"
    assert client.get(TEAM).status_code == 401


def test_invalid_list_filters_are_422(as_, steady):
    for params in ({"role": "boss"}, {"status": "gone"}, {"limit": 0}):
        assert as_(steady["admin"]).get(TEAM, params=params).status_code == 422


# --- invite -----------------------------------------------------------------------------


def test_inviting_adds_nobody_and_creates_no_account(as_, db, fresh, steady):
    """Joining takes the invited person's consent (tests/integration/api/test_accounts.py)."""
    someone = steady["staff"]  # has an account (and a membership elsewhere)
    email = new_email()
    before_other = memberships(db, steady)
    for address in (someone.email, email):
        r = as_(fresh["owner"]).post(INVITES, json={"email": address, "role": "admin"})
        assert r.status_code == 201 and r.json()["status"] == "pending"
    assert someone.user_id not in memberships(db, fresh)
    assert users_with_email(db, email) == 0
    assert memberships(db, steady) == before_other


def test_inviting_an_active_member_again_is_409_already_member(as_, db, fresh):
    before = memberships(db, fresh)
    r = as_(fresh["admin"]).post(INVITES, json={"email": fresh["staff"].email, "role": "admin"})
    assert r.status_code == 409 and code(r) == "already_member"
    assert memberships(db, fresh) == before


def test_only_an_owner_may_invite_an_owner(as_, db, fresh):
    email = new_email()
    r = as_(fresh["admin"]).post(INVITES, json={"email": email, "role": "owner"})
    assert r.status_code == 403 and code(r) == "role_required"
    r = as_(fresh["owner"]).post(INVITES, json={"email": email, "role": "owner"})
    assert r.status_code == 201 and r.json()["role"] == "owner"
    assert users_with_email(db, email) == 0


def test_staff_and_clients_cannot_invite(as_, db, steady):
    before = memberships(db, steady)
    for role in ("staff", "client"):
        email = new_email()
        r = as_(steady[role]).post(INVITES, json={"email": email, "role": "client"})
        assert r.status_code == 403 and code(r) == "role_required"
        assert users_with_email(db, email) == 0
    assert memberships(db, steady) == before


def test_invalid_invitations_are_422_and_nothing_is_stored(as_, db, steady, fresh):
    before, before_other = memberships(db, steady), memberships(db, fresh)
    email = new_email()
    for payload in (
        {"email": "not-an-email", "role": "staff"},
        {"email": email, "role": "boss"},
        {"email": email},
        {"email": email, "role": "staff", "tenant_id": str(fresh.id)},
        {"email": email, "role": "staff", "name": "x" * 201},
        {"email": email, "role": "staff", "name": "Sam\x00"},  # refused before the database
    ):
        r = as_(steady["owner"]).post(INVITES, json=payload)
        assert r.status_code == 422 and code(r) == "validation_error", payload
    assert users_with_email(db, email) == 0
    assert memberships(db, steady) == before and memberships(db, fresh) == before_other


# --- role change and removal take effect on the member's next request --------------------


def test_a_role_change_applies_on_the_members_very_next_request(app, as_, db, fresh):
    with TestClient(app) as member:
        login(member, fresh["staff"])
        assert member.get(SERVICES).status_code == 200
        r = as_(fresh["admin"]).patch(f"{TEAM}/{fresh['staff'].user_id}", json={"role": "client"})
        assert r.status_code == 200 and r.json()["role"] == "client"
        refused = member.get(SERVICES)
        assert refused.status_code == 403 and code(refused) == "role_required"
    assert memberships(db, fresh)[fresh["staff"].user_id] == ("client", "active")


def test_a_removed_member_is_refused_on_their_very_next_request(app, as_, db, fresh):
    with TestClient(app) as member:
        login(member, fresh["staff"])
        assert member.get(SERVICES).status_code == 200
        assert as_(fresh["admin"]).delete(f"{TEAM}/{fresh['staff'].user_id}").status_code == 204
        refused = member.get(SERVICES)
        assert refused.status_code == 403 and code(refused) == "not_a_member"
    assert memberships(db, fresh)[fresh["staff"].user_id] == ("staff", "removed")
    listed = as_(fresh["admin"]).get(TEAM, params={"status": "removed"}).json()["items"]
    assert [i["email"] for i in listed] == [fresh["staff"].email]
    # Removed: no further changes; a new invitation waits for their consent.
    gone = as_(fresh["admin"]).patch(f"{TEAM}/{fresh['staff'].user_id}", json={"role": "admin"})
    assert gone.status_code == 404
    back = as_(fresh["admin"]).post(INVITES, json={"email": fresh["staff"].email, "role": "staff"})
    assert back.status_code == 201 and back.json()["status"] == "pending"
    assert memberships(db, fresh)[fresh["staff"].user_id] == ("staff", "removed")


def test_removal_from_one_tenant_leaves_the_members_other_tenant_alone(app, as_, db, fresh, steady):
    consultant = steady["staff"]
    add_member(db, tenant_id=fresh.id, user_id=consultant.user_id, role="staff")
    assert as_(fresh["owner"]).delete(f"{TEAM}/{consultant.user_id}").status_code == 204
    with TestClient(app) as member:
        login(member, consultant, tenant=steady.slug)
        assert member.get(SERVICES).status_code == 200
    assert memberships(db, steady)[consultant.user_id] == ("staff", "active")


# --- owners -----------------------------------------------------------------------------


def test_the_last_owner_cannot_be_demoted_or_removed(as_, db, fresh):
    owner = as_(fresh["owner"])
    before = memberships(db, fresh)
    # Nobody changes their own role (issue 8), the last owner included.
    r = owner.patch(f"{TEAM}/{fresh['owner'].user_id}", json={"role": "admin"})
    assert r.status_code == 403 and code(r) == "own_role_change"
    r = owner.delete(f"{TEAM}/{fresh['owner'].user_id}")
    assert r.status_code == 409 and code(r) == "last_owner"
    assert memberships(db, fresh) == before
    # With a second owner, that owner may make the first step down.
    assert (
        owner.patch(f"{TEAM}/{fresh['admin'].user_id}", json={"role": "owner"}).status_code == 200
    )
    second = as_(fresh["admin"])
    assert (
        second.patch(f"{TEAM}/{fresh['owner'].user_id}", json={"role": "admin"}).status_code == 200
    )
    assert memberships(db, fresh)[fresh["owner"].user_id] == ("admin", "active")


def test_an_admin_cannot_demote_remove_or_create_an_owner(as_, db, fresh):
    admin = as_(fresh["admin"])
    before = memberships(db, fresh)
    for r in (
        admin.patch(f"{TEAM}/{fresh['owner'].user_id}", json={"role": "staff"}),
        admin.delete(f"{TEAM}/{fresh['owner'].user_id}"),
        admin.patch(f"{TEAM}/{fresh['staff'].user_id}", json={"role": "owner"}),
    ):
        assert r.status_code == 403 and code(r) == "role_required"
    assert memberships(db, fresh) == before


def test_staff_cannot_change_or_remove_members(as_, db, steady):
    before = memberships(db, steady)
    staff = as_(steady["staff"])
    for r in (
        staff.patch(f"{TEAM}/{steady['client'].user_id}", json={"role": "admin"}),
        staff.delete(f"{TEAM}/{steady['client'].user_id}"),
    ):
        assert r.status_code == 403 and code(r) == "role_required"
    assert memberships(db, steady) == before


# --- cross-tenant and invalid input ------------------------------------------------------


def test_an_owner_of_a_gets_404_for_members_of_b_and_b_is_unchanged(as_, db, fresh, steady):
    before = memberships(db, steady)
    owner = as_(fresh["owner"])
    for target in (steady["staff"].user_id, steady["owner"].user_id, uuid.uuid4()):
        for r in (
            owner.patch(f"{TEAM}/{target}", json={"role": "client"}),
            owner.delete(f"{TEAM}/{target}"),
        ):
            assert r.status_code == 404 and code(r) == "not_found"
    assert memberships(db, steady) == before


def test_invalid_role_changes_are_422_and_change_nothing(as_, db, steady):
    before = memberships(db, steady)
    owner = as_(steady["owner"])
    for payload in ({"role": "boss"}, {}, {"role": "staff", "tenant_id": str(uuid.uuid4())}):
        r = owner.patch(f"{TEAM}/{steady['staff'].user_id}", json=payload)
        assert r.status_code == 422, payload
    assert owner.patch(f"{TEAM}/not-a-uuid", json={"role": "staff"}).status_code == 422
    assert owner.delete(f"{TEAM}/not-a-uuid").status_code == 422
    assert memberships(db, steady) == before

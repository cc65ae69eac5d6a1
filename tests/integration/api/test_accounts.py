"""Accounts over HTTP with real mail: sign-up and its confirmation, password change and
reset, invitations from both sides. Every link is read from a message delivered by the
real job worker to a real SMTP server."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.auth.models import Membership
from tenantry.isolation.context import TenantContext, tenant_context
from tests.factories import Member, make_tenant, make_user
from tests.helpers import code, login
from tests.integration.api import mailbox as smtp
from tests.integration.api.mailbox import body_of, deliver_account_mail, mail_settings, token_in

mailbox = smtp.mailbox

PASSWORD = "a-long-enough-password"
INVITES = "/api/admin/invitations"


@pytest.fixture(scope="module")
def mset(settings, mailbox):
    return mail_settings(settings, mailbox.port)


@pytest.fixture(scope="module")
def mail_app(mset, db):
    from tenantry.app import create_app

    return create_app(mset, db)


@pytest.fixture
def web(mail_app):
    with TestClient(mail_app) as c:
        yield c


@pytest.fixture
def deliver(db, mset):
    return lambda: deliver_account_mail(db, mset)


@pytest.fixture(scope="module")
def shop(db):
    return make_tenant(db)


def new_email(prefix: str = "person") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


def host(tenant) -> dict[str, str]:
    return {"host": f"{tenant.slug}.localhost"}


def role_in(db, tenant, user_id) -> tuple[str, str] | None:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        m = s.scalar(select(Membership).where(Membership.user_id == user_id))
        return (m.role, m.status) if m else None


def sign_in(client, email: str, password: str, **kw):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kw)


# ------------------------------------------------------------------------- sign-up


def test_sign_up_needs_the_emailed_link_and_the_password_before_signing_in(
    web, mailbox, deliver, shop
):
    email = new_email()
    r = web.post(
        "/api/auth/register",
        json={"email": email.upper(), "password": PASSWORD, "name": "New Client"},
        headers=host(shop),
    )
    assert r.status_code == 202 and r.json()["ok"] is True
    assert not r.cookies and "set-cookie" not in r.headers
    refused = sign_in(web, email, PASSWORD)
    assert refused.status_code == 403 and code(refused) == "email_not_verified"
    deliver()
    message = mailbox.last_to(email)
    assert message["Subject"] == f"Confirm your e-mail address for Tenant {shop.slug}"
    assert "http://localhost:8000/verify-email?token=" in body_of(message)
    token = token_in(message)
    wrong = web.post("/api/auth/verify-email", json={"token": token, "password": "not-it-at-all"})
    assert wrong.status_code == 401 and code(wrong) == "invalid_credentials"
    ok = web.post("/api/auth/verify-email", json={"token": token, "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    assert ok.json()["active_tenant"]["slug"] == shop.slug and ok.json()["role"] == "client"
    assert web.get("/api/tenant/current").json()["role"] == "client"
    again = web.post("/api/auth/verify-email", json={"token": token, "password": PASSWORD})
    assert again.status_code == 400 and code(again) == "invalid_token"
    assert sign_in(TestClient(web.app), email, PASSWORD).status_code == 200


def test_signing_up_with_an_existing_address_changes_nothing_and_mails_its_owner(
    web, db, mailbox, deliver, shop
):
    other = make_tenant(db, roles=("staff",))
    owner = other["staff"]
    new = new_email()
    answers = [
        web.post(
            "/api/auth/register",
            json={"email": email, "password": "attacker-password", "name": "Mallory"},
            headers=host(shop),
        )
        for email in (owner.email, new)
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    assert sign_in(web, owner.email, "attacker-password").status_code == 401
    assert sign_in(web, owner.email, owner.password).status_code == 200
    assert role_in(db, shop, owner.user_id) is None
    deliver()
    note = mailbox.last_to(owner.email)
    assert note["Subject"] == f"Signing up at Tenant {shop.slug}"
    assert "already has a Tenantry account" in body_of(note)
    # The owner may join: with the link AND their own password.
    with TestClient(web.app) as owners_browser:
        joined = owners_browser.post(
            "/api/auth/verify-email", json={"token": token_in(note), "password": owner.password}
        )
        assert joined.status_code == 200, joined.text
    assert role_in(db, shop, owner.user_id) == ("client", "active")
    assert role_in(db, other, owner.user_id) == ("staff", "active")


def test_forged_and_misused_links_are_invalid(web, mailbox, deliver, shop):
    email = new_email()
    web.post("/api/auth/password-reset", json={"email": email})
    for token in ("x" * 40, "eyJ0Ijoi.forged.signature-000000"):
        r = web.post("/api/auth/verify-email", json={"token": token, "password": PASSWORD})
        assert r.status_code == 400 and code(r) == "invalid_token"
    web.post("/api/auth/register", json={"email": email, "password": PASSWORD}, headers=host(shop))
    deliver()
    verify = token_in(mailbox.last_to(email))
    # A verification token is not a reset token, nor an invitation.
    r = web.post(
        "/api/auth/password-reset/confirm", json={"token": verify, "new_password": PASSWORD}
    )
    assert r.status_code == 400 and code(r) == "invalid_token"
    r = web.post("/api/auth/invitations/preview", json={"token": verify})
    assert r.status_code == 400 and code(r) == "invalid_token"


def test_register_needs_a_tenant_and_refuses_bad_input(web):
    r = web.post("/api/auth/register", json={"email": new_email(), "password": PASSWORD})
    assert r.status_code == 400
    r = web.post(
        "/api/auth/register",
        json={"email": new_email(), "password": PASSWORD, "tenant": "no-such-tenant-q"},
    )
    assert r.status_code == 404
    for body in ({"email": "nope", "password": PASSWORD}, {"email": new_email(), "password": "s"}):
        assert web.post("/api/auth/register", json=body).status_code == 422


# ------------------------------------------------------------------------- passwords


def test_changing_the_password_ends_every_other_session(web, db, shop):
    user = make_user(db)
    from tenantry.tenants.lifecycle import add_member

    add_member(db, tenant_id=shop.id, user_id=user.user_id, role="staff")
    with TestClient(web.app) as other_browser:
        login(web, user)
        login(other_browser, user)
        wrong = web.post(
            "/api/auth/password",
            json={"current_password": "not-the-password", "new_password": PASSWORD},
        )
        assert wrong.status_code == 401 and code(wrong) == "invalid_credentials"
        r = web.post(
            "/api/auth/password",
            json={"current_password": user.password, "new_password": PASSWORD},
        )
        assert r.status_code == 200, r.text
        assert web.get("/api/tenant/current").status_code == 200
        stale = other_browser.get("/api/tenant/current")
        assert stale.status_code == 403 and code(stale) == "session_revoked"
    assert sign_in(TestClient(web.app), user.email, user.password).status_code == 401
    assert sign_in(TestClient(web.app), user.email, PASSWORD).status_code == 200


def test_password_reset_by_emailed_link(web, db, mailbox, deliver, shop):
    user = shop["client"]
    unknown = new_email("nobody")
    with TestClient(web.app) as signed_in:
        login(signed_in, user)
        answers = [
            web.post("/api/auth/password-reset", json={"email": e}) for e in (user.email, unknown)
        ]
        assert [a.status_code for a in answers] == [202, 202]
        assert answers[0].json() == answers[1].json()
        web.post("/api/auth/password-reset", json={"email": user.email})  # a second link
        deliver()
        assert "there is no account with this address" in body_of(mailbox.last_to(unknown))
        first, second = (token_in(m) for m in mailbox.to(user.email)[-2:])
        r = web.post(
            "/api/auth/password-reset/confirm", json={"token": first, "new_password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        stale = signed_in.get("/api/tenant/current")
        assert stale.status_code == 403 and code(stale) == "session_revoked"
    for token in (first, second):  # used, and burned with it
        r = web.post(
            "/api/auth/password-reset/confirm", json={"token": token, "new_password": PASSWORD}
        )
        assert r.status_code == 400 and code(r) == "invalid_token"
    assert sign_in(web, user.email, user.password).status_code == 401
    assert sign_in(web, user.email, PASSWORD).status_code == 200
    shop.members["client"] = Member(user.user_id, user.email, "client", PASSWORD)


# ------------------------------------------------------------------------- invitations


def admin_client(app, tenant) -> TestClient:
    c = TestClient(app)
    login(c, tenant["owner"])
    return c


def test_inviting_a_new_address_joins_nobody_until_the_link_is_used(web, db, mailbox, deliver):
    tenant = make_tenant(db, roles=("owner",))
    email = new_email("newcomer")
    with admin_client(web.app, tenant) as owner:
        r = owner.post(INVITES, json={"email": email, "role": "staff", "name": "Sam Newcomer"})
        assert r.status_code == 201, r.text
        invitation = r.json()
        assert invitation["status"] == "pending" and invitation["name"] == "Sam Newcomer"
        assert not any("password" in k or k == "user_id" for k in invitation)
        listed = owner.get(INVITES, params={"status": "pending"}).json()["items"]
        assert [i["id"] for i in listed] == [invitation["id"]]
        members = owner.get("/api/admin/team-members").json()["items"]
        assert email not in [m["email"] for m in members]
        deliver()
        message = mailbox.last_to(email)
        assert message["Subject"] == f"You are invited to join Tenant {tenant.slug}"
        token = token_in(message)
        preview = web.post("/api/auth/invitations/preview", json={"token": token}).json()
        assert preview["account"] == "new" and preview["role"] == "staff"
        need = web.post("/api/auth/invitations/accept", json={"token": token})
        assert need.status_code == 422 and code(need) == "password_required"
        joined = web.post(
            "/api/auth/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert joined.status_code == 200, joined.text
        assert joined.json()["active_tenant"]["slug"] == tenant.slug
        assert joined.json()["role"] == "staff" and joined.json()["user"]["name"] == "Sam Newcomer"
        assert owner.get(INVITES).json()["items"][0]["status"] == "accepted"
        again = web.post(
            "/api/auth/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert again.status_code == 400 and code(again) == "invalid_token"
    assert sign_in(TestClient(web.app), email, PASSWORD).status_code == 200


def test_an_existing_account_joins_only_signed_in_as_itself(web, db, mailbox, deliver):
    tenant = make_tenant(db, roles=("owner",))
    elsewhere = make_tenant(db, roles=("staff", "client"))
    person, stranger = elsewhere["staff"], elsewhere["client"]
    with admin_client(web.app, tenant) as owner:
        r = owner.post(INVITES, json={"email": person.email, "role": "admin", "name": "Pat"})
        assert r.status_code == 201 and r.json()["name"] == "Pat"
        assert role_in(db, tenant, person.user_id) is None
    deliver()
    token = token_in(mailbox.last_to(person.email))
    assert web.post("/api/auth/invitations/preview", json={"token": token}).json()["account"] == (
        "existing"
    )
    anonymous = web.post(
        "/api/auth/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert anonymous.status_code == 409 and code(anonymous) == "sign_in_required"
    assert sign_in(TestClient(web.app), person.email, PASSWORD).status_code == 401
    with TestClient(web.app) as theirs:
        login(theirs, stranger)
        r = theirs.post("/api/auth/invitations/accept", json={"token": token})
        assert r.status_code == 403 and code(r) == "invitation_for_another_account"
        assert theirs.get("/api/auth/invitations").json() == []
    with TestClient(web.app) as mine:
        login(mine, person)
        pending = mine.get("/api/auth/invitations").json()
        assert [(p["tenant_slug"], p["role"], p["name"]) for p in pending] == [
            (tenant.slug, "admin", "Pat")
        ]
        r = mine.post(f"/api/auth/invitations/{pending[0]['id']}/accept")
        assert r.status_code == 200, r.text
        assert r.json()["active_tenant"]["slug"] == tenant.slug and r.json()["role"] == "admin"
        assert mine.get("/api/tenant/current").json()["role"] == "admin"
        assert mine.get("/api/auth/invitations").json() == []
    assert role_in(db, tenant, person.user_id) == ("admin", "active")
    used = web.post("/api/auth/invitations/accept", json={"token": token})
    assert used.status_code == 400 and code(used) == "invalid_token"


def test_revoked_and_replaced_invitations_stop_working(web, db, mailbox, deliver):
    tenant = make_tenant(db, roles=("owner", "admin", "staff"))
    email = new_email("revoked")
    with admin_client(web.app, tenant) as owner:
        first = owner.post(INVITES, json={"email": email, "role": "client"}).json()
        deliver()
        first_token = token_in(mailbox.last_to(email))
        resent = owner.post(f"{INVITES}/{first['id']}/resend")
        assert resent.status_code == 201 and resent.json()["id"] != first["id"]
        deliver()
        second_token = token_in(mailbox.last_to(email))
        assert owner.delete(f"{INVITES}/{resent.json()['id']}").status_code == 204
        closed = owner.delete(f"{INVITES}/{resent.json()['id']}")
        assert closed.status_code == 409 and code(closed) == "record_closed"
        statuses = {i["id"]: i["status"] for i in owner.get(INVITES).json()["items"]}
        assert statuses == {first["id"]: "revoked", resent.json()["id"]: "revoked"}
        assert owner.delete(f"{INVITES}/{uuid.uuid4()}").status_code == 404
    for token in (first_token, second_token):
        r = web.post("/api/auth/invitations/accept", json={"token": token, "password": PASSWORD})
        assert r.status_code == 400 and code(r) == "invalid_token"


def test_who_may_invite_and_whom(web, db):
    tenant = make_tenant(db)
    with TestClient(web.app) as admin, TestClient(web.app) as staff:
        login(admin, tenant["admin"])
        login(staff, tenant["staff"])
        r = admin.post(INVITES, json={"email": new_email(), "role": "owner"})
        assert r.status_code == 403 and code(r) == "role_required"
        r = staff.post(INVITES, json={"email": new_email(), "role": "client"})
        assert r.status_code == 403 and code(r) == "role_required"
        r = admin.post(INVITES, json={"email": tenant["client"].email.upper(), "role": "staff"})
        assert r.status_code == 409 and code(r) == "already_member"
        for bad in ({"email": "x", "role": "staff"}, {"email": new_email(), "role": "boss"}):
            assert admin.post(INVITES, json=bad).status_code == 422
        assert staff.get(INVITES).status_code == 200  # team.read
        assert admin.get(INVITES, params={"status": "lost"}).status_code == 422


# ------------------------------------------------------------------------- rate limits


def test_account_endpoints_are_rate_limited(settings, db, mailbox, shop):
    from tenantry.app import create_app

    strict = mail_settings(
        settings, mailbox.port, account_actions_per_address="3/minute",
        account_mails_per_email="2/minute",
    )  # fmt: skip
    with TestClient(create_app(strict, db), client=("198.51.100.9", 1234)) as c:
        email = new_email("flood")
        statuses = [
            c.post("/api/auth/password-reset", json={"email": email}).status_code for _ in range(3)
        ]
        assert statuses == [202, 202, 429]  # the recipient's budget
        r = c.post("/api/auth/password-reset", json={"email": new_email()})
        assert r.status_code == 429 and code(r) == "rate_limited"  # the address's budget
        assert int(r.headers["retry-after"]) >= 1
        r = c.post(
            "/api/auth/register",
            json={"email": new_email(), "password": PASSWORD},
            headers=host(shop),
        )
        assert r.status_code == 429

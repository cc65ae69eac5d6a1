"""Issue 8, replayed as the attacker did it: findings 1, 2, 7, 8, 10 (users and
memberships) and 11, each over HTTP through the real app (or as SQL as the app role),
each getting the safe outcome.

Every test names its finding. The takeover chain and the temporary-password chain of
finding 1 are tests of their own. Mail is real: the account-mail jobs are run by the
real worker and delivered to a local SMTP server, where the links are read.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DataError, ProgrammingError

from tenantry.app import create_app
from tenantry.auth.models import Membership, User
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.scopes import iter_api_routes
from tenantry.ops.cli import proxy_options
from tenantry.settings import Settings
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.lifecycle import add_member, create_tenant, provision_tenant
from tests.factories import make_tenant
from tests.helpers import code, login
from tests.integration.api import mailbox as smtp
from tests.integration.api.mailbox import deliver_account_mail, mail_settings, token_in
from tests.ports import uvicorn_thread

mailbox = smtp.mailbox


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


# ------------------------------------------------------- findings 1 and 2: accounts, joining

ATTACKER_PASSWORD = "attacker-chosen-password"
OWNER_PASSWORD = "the-real-owners-password"
INVITES = "/api/admin/invitations"


@pytest.fixture(scope="module")
def mset(settings, mailbox):
    return mail_settings(settings, mailbox.port)


@pytest.fixture(scope="module")
def mail_app(mset, db):
    return create_app(mset, db)


def role_in(db, tenant_id, user_id) -> str | None:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        m = s.scalar(select(Membership).where(Membership.user_id == user_id))
        return f"{m.role}/{m.status}" if m else None


def user_id_of(db, email: str) -> uuid.UUID | None:
    with db.system_session(reason="test: who owns this address") as s:
        return s.scalar(select(User.id).where(User.email == email.lower()))


def all_keys_and_strings(value) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value] + [x for v in value.values() for x in all_keys_and_strings(v)]
    if isinstance(value, list):
        return [x for v in value for x in all_keys_and_strings(v)]
    return [str(value)]


def test_finding_1_takeover_chain_the_attacker_never_becomes_globex_admin(
    mail_app, mset, db, mailbox
):
    acme, globex = make_tenant(db, roles=("owner",)), make_tenant(db, roles=("owner",))
    address = f"new.manager-{uuid.uuid4().hex[:8]}@globex-corp.test"
    with TestClient(mail_app) as attacker, TestClient(mail_app) as globex_owner:
        # 1. The attacker registers the manager's address on acme's host, with their password.
        r = attacker.post(
            "/api/auth/register",
            json={"email": address, "password": ATTACKER_PASSWORD, "name": "Attacker"},
            headers={"host": f"{acme.slug}.localhost"},
        )
        assert r.status_code == 202 and not attacker.cookies
        refused = attacker.post(
            "/api/auth/login", json={"email": address, "password": ATTACKER_PASSWORD}
        )
        assert refused.status_code == 403 and code(refused) == "email_not_verified"
        # 2. Globex's owner later invites that address as admin.
        login(globex_owner, globex["owner"])
        r = globex_owner.post(
            INVITES, json={"email": address, "role": "admin", "name": "New Manager"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "New Manager" and "Attacker" not in r.text
        account = user_id_of(db, address)
        assert account is not None and str(account) not in r.text
        assert role_in(db, globex.id, account) is None  # nobody joined
        # 3. The attacker signs in and switches to globex: still refused at every step.
        again = attacker.post(
            "/api/auth/login",
            json={"email": address, "password": ATTACKER_PASSWORD, "tenant": globex.slug},
        )
        assert again.status_code == 403 and code(again) == "email_not_verified"
        assert attacker.post("/api/tenant/switch", json={"tenant": globex.slug}).status_code == 401
        forged = attacker.post(
            "/api/auth/invitations/accept",
            json={"token": "forged-token-0123456789", "password": ATTACKER_PASSWORD},
        )
        assert forged.status_code == 400 and code(forged) == "invalid_token"
    # 4. The mail went to the address's real owner, who accepts with their own password.
    deliver_account_mail(db, mset)
    invitation = next(m for m in mailbox.to(address) if "invited" in m["Subject"])
    verify = next(m for m in mailbox.to(address) if "Confirm" in m["Subject"])
    with TestClient(mail_app) as owner:
        # Even with the attacker's sign-up link, the attacker's password confirms nothing
        # for the address's owner... and the owner does not know it.
        r = owner.post(
            "/api/auth/verify-email", json={"token": token_in(verify), "password": OWNER_PASSWORD}
        )
        assert r.status_code == 401
        r = owner.post(
            "/api/auth/invitations/accept",
            json={"token": token_in(invitation), "password": OWNER_PASSWORD},
        )
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "admin" and r.json()["active_tenant"]["slug"] == globex.slug
    # 5. The attacker's password is gone; they are admin nowhere.
    with TestClient(mail_app) as attacker:
        r = attacker.post("/api/auth/login", json={"email": address, "password": ATTACKER_PASSWORD})
        assert r.status_code == 401
        r = attacker.post(
            "/api/auth/verify-email",
            json={"token": token_in(verify), "password": ATTACKER_PASSWORD},
        )
        assert r.status_code == 401  # the link needs the account's password: now the owner's
    assert role_in(db, globex.id, account) == "admin/active"
    assert role_in(db, acme.id, account) is None


def test_finding_1_temporary_password_chain_no_password_is_ever_returned(
    mail_app, mset, db, mailbox
):
    acme, globex = make_tenant(db, roles=("owner", "admin")), make_tenant(db, roles=("owner",))
    address = f"future.owner-{uuid.uuid4().hex[:8]}@example.test"
    with TestClient(mail_app) as acme_admin, TestClient(mail_app) as globex_owner:
        login(acme_admin, acme["admin"])
        r = acme_admin.post(INVITES, json={"email": address, "role": "staff"})
        assert r.status_code == 201, r.text
        words = all_keys_and_strings(r.json())
        assert not [w for w in words if "password" in w.lower() or w == "user_id"], words
        assert user_id_of(db, address) is None  # not even an account was made
        listed = acme_admin.get(INVITES).json()
        assert "password" not in str(listed).lower()
        login(globex_owner, globex["owner"])
        assert (
            globex_owner.post(INVITES, json={"email": address, "role": "owner"}).status_code == 201
        )
        # The acme admin holds nothing that opens the account: no password, no link.
        for guess in ("", "staff", address, r.json()["id"]):
            attempt = acme_admin.post(
                "/api/auth/login", json={"email": address, "password": guess or "x"}
            )
            assert attempt.status_code == 401
        stolen = acme_admin.post(
            "/api/auth/invitations/accept", json={"token": r.json()["id"] + "-guess"}
        )
        assert stolen.status_code == 400
    deliver_account_mail(db, mset)
    to_globex = next(m for m in mailbox.to(address) if globex.slug in m["Subject"])
    with TestClient(mail_app) as owner:
        r = owner.post(
            "/api/auth/invitations/accept",
            json={"token": token_in(to_globex), "password": OWNER_PASSWORD},
        )
        assert r.status_code == 200 and r.json()["role"] == "owner"
    account = user_id_of(db, address)
    assert role_in(db, globex.id, account) == "owner/active"
    assert role_in(db, acme.id, account) is None  # acme's invitation waits for consent


def test_finding_1_passwords_can_be_changed(mail_app, db):
    tenant = make_tenant(db, roles=("staff",))
    member = tenant["staff"]
    with TestClient(mail_app) as c:
        login(c, member)
        r = c.post(
            "/api/auth/password",
            json={"current_password": member.password, "new_password": OWNER_PASSWORD},
        )
        assert r.status_code == 200
        old = c.post("/api/auth/login", json={"email": member.email, "password": member.password})
        assert old.status_code == 401


def test_finding_2_register_answers_the_same_for_every_address_and_is_rate_limited(
    settings, db, mailbox
):
    """40 probes, as in the report: existing addresses of globex and fresh ones answer
    alike, and the address is throttled (default budget: 30 per hour)."""
    acme, globex = make_tenant(db, roles=("owner",)), make_tenant(db)
    defaults = mail_settings(
        settings, mailbox.port,
        account_actions_per_address=Settings.model_fields["account_actions_per_address"].default,
    )  # fmt: skip
    existing = [m.email for m in globex.members.values()]
    with TestClient(create_app(defaults, db), client=("203.0.113.40", 4000)) as prober:
        answers = []
        for i in range(40):
            email = existing[i % len(existing)] if i % 2 else f"fresh-{uuid.uuid4().hex}@x.test"
            answers.append(
                prober.post(
                    "/api/auth/register",
                    json={"email": email, "password": "probe-password-1"},
                    headers={"host": f"{acme.slug}.localhost"},
                )
            )
    accepted = [a for a in answers if a.status_code == 202]
    assert len(accepted) == 30
    assert len({a.text for a in accepted}) == 1  # one answer for existing and new alike
    assert {a.status_code for a in answers[30:]} == {429}
    assert all(code(a) == "rate_limited" for a in answers[30:])


def test_finding_2_inviting_another_tenants_member_reveals_nothing_and_adds_nobody(mail_app, db):
    acme, globex = make_tenant(db, roles=("owner",)), make_tenant(db, roles=("client",))
    victim = globex["client"]
    fresh = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    with TestClient(mail_app) as acme_owner:
        login(acme_owner, acme["owner"])
        known = acme_owner.post(INVITES, json={"email": victim.email, "role": "staff"})
        unknown = acme_owner.post(INVITES, json={"email": fresh, "role": "staff"})
    assert known.status_code == unknown.status_code == 201
    volatile = {"id", "email", "created_at", "expires_at"}
    same = {k: v for k, v in known.json().items() if k not in volatile}
    assert same == {k: v for k, v in unknown.json().items() if k not in volatile}
    assert known.json()["name"] == ""  # the name typed (none), not globex's display name
    assert str(victim.user_id) not in known.text and "user_id" not in known.json()
    assert role_in(db, acme.id, victim.user_id) is None
    assert role_in(db, globex.id, victim.user_id) == "client/active"


# ----------------------------------------------- finding 10: the app role and identities


def as_app_role(db, tenant_id, user_id, sql: str, **params):
    """``sql`` as the app role in a transaction pinned to (tenant, user), as a request's."""
    with tenant_context(TenantContext(tenant_id=tenant_id, user_id=user_id)), db.session() as s:
        return s.execute(text(sql), params).all()


def test_finding_10_the_app_role_reads_no_password_hash(db, tenant_a):
    member = tenant_a["staff"]
    for sql in (
        "select password_hash from users",
        "select password_hash from users where id = :me",
        "select * from users where id = :me",
    ):
        with pytest.raises(ProgrammingError, match="permission denied"):
            as_app_role(db, tenant_a.id, member.user_id, sql, me=member.user_id)


def test_finding_10_the_app_role_sees_only_the_pinned_tenants_people(db, tenant_a, tenant_b):
    rows = as_app_role(db, tenant_a.id, tenant_a["staff"].user_id, "select id, email from users")
    seen = {r.id for r in rows}
    assert seen == {m.user_id for m in tenant_a.members.values()}
    assert not seen & {m.user_id for m in tenant_b.members.values()}
    # No tenant pinned: only the caller's own row.
    mine = as_app_role(db, None, tenant_b["client"].user_id, "select id from users")
    assert [r.id for r in mine] == [tenant_b["client"].user_id]
    assert as_app_role(db, None, None, "select id from users") == []


def test_finding_10_the_app_role_cannot_make_anyone_superadmin(db, tenant_a):
    me = tenant_a["owner"].user_id
    for sql in (
        "update users set is_superadmin = true where id = :me",
        "update users set email = 'taken@evil.test' where id = :me",
        "insert into users (email, password_hash, is_superadmin) values ('x@evil.test', 'x', true)",
        "delete from users where id = :me",
    ):
        with pytest.raises(ProgrammingError, match="permission denied"):
            as_app_role(db, tenant_a.id, me, sql, me=me)
    # Its own allowed columns still work for its own row only.
    other = tenant_a["staff"].user_id
    changed = as_app_role(
        db, tenant_a.id, me, "update users set name = name where id = any(:ids) returning id",
        ids=[me, other],
    )  # fmt: skip
    assert [r.id for r in changed] == [me]


def test_finding_10_with_acme_pinned_a_raw_select_never_returns_the_globex_membership(
    db, tenant_a, tenant_b
):
    consultant = tenant_a["staff"]
    add_member(db, tenant_id=tenant_b.id, user_id=consultant.user_id, role="admin")
    rows = as_app_role(
        db, tenant_a.id, consultant.user_id,
        "select tenant_id, role from tenant_memberships where user_id = :u",
        u=consultant.user_id,
    )  # fmt: skip
    assert [(r.tenant_id, r.role) for r in rows] == [(tenant_a.id, "staff")]
    # With no tenant pinned (the tenant switcher) the user sees their own memberships.
    mine = as_app_role(db, None, consultant.user_id, "select tenant_id from tenant_memberships")
    assert {r.tenant_id for r in mine} == {tenant_a.id, tenant_b.id}


def test_finding_10_account_mail_is_queued_only_through_its_definer_function(db, tenant_a):
    """The job queue admits no tenant-less job from the app role (forced RLS): account
    mail goes through ``defer_account_job``, which queues exactly the account task on
    its own queue, refuses a tenant, and lets the app read nothing back."""
    me = tenant_a["owner"].user_id
    for pinned in (tenant_a.id, None):
        with pytest.raises(ProgrammingError, match="row-level security"):
            as_app_role(
                db, pinned, me,
                "insert into procrastinate_jobs (queue_name, task_name, args) "
                "values ('accounts', 'accounts.send_mail', '{}')",
            )  # fmt: skip
    with pytest.raises(DataError, match="no tenant_id"):
        as_app_role(
            db, tenant_a.id, me, "select defer_account_job(cast(:a as jsonb))",
            a=f'{{"tenant_id": "{tenant_a.id}"}}',
        )  # fmt: skip
    args = '{"template": "no_account", "to": "nobody@definer.test", "values": {}}'
    with tenant_context(TenantContext(tenant_id=tenant_a.id, user_id=me)), db.session() as s:
        job_id = s.execute(text("select defer_account_job(cast(:a as jsonb))"), {"a": args})
        job_id = job_id.scalar_one()
        # Queued in the caller's transaction, and not readable by it.
        assert (
            s.execute(text("select id from procrastinate_jobs where id = :i"), {"i": job_id}).all()
            == []
        )
    with db.worker_engine.begin() as conn:
        row = conn.execute(
            text(
                "delete from procrastinate_jobs where id = :i returning queue_name, task_name, args"
            ),
            {"i": job_id},
        ).one()
    assert (row.queue_name, row.task_name) == ("accounts", "accounts.send_mail")
    assert row.args["to"] == "nobody@definer.test" and "tenant_id" not in row.args


def test_a_tenant_provisioned_for_a_new_address_mails_its_owner_a_link_never_a_password(
    mail_app, mset, db, mailbox
):
    """The lifecycle's operator create (API and CLI) used to return a one-time owner
    password; now the owner gets an invitation link and chooses their own password."""
    address = f"first.owner-{uuid.uuid4().hex[:8]}@example.test"
    slug = f"lk-{uuid.uuid4().hex[:8]}"
    created = create_tenant(
        db, slug=slug, name="Link Owned", owner_email=address, actor=Actor(label="test:owner-link")
    )
    assert created.owner_id is None and created.owner_invitation is not None
    assert user_id_of(db, address) is None
    deliver_account_mail(db, mset)
    message = mailbox.last_to(address)
    assert "Link Owned" in message["Subject"] and "password" not in message["Subject"].lower()
    with TestClient(mail_app) as someone:
        preview = someone.post("/api/auth/invitations/preview", json={"token": token_in(message)})
        assert preview.status_code == 200 and preview.json()["role"] == "owner"
        r = someone.post(
            "/api/auth/invitations/accept",
            json={"token": token_in(message), "password": OWNER_PASSWORD},
        )
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "owner" and r.json()["active_tenant"]["slug"] == slug
        again = someone.post(
            "/api/auth/invitations/accept",
            json={"token": token_in(message), "password": OWNER_PASSWORD},
        )
        assert again.status_code == 400  # single use
    assert role_in(db, created.tenant.id, user_id_of(db, address)) == "owner/active"

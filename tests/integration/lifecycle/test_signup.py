"""Self sign-up: off by default, rate-limited, the owner's email verified before the
business exists, then one-transaction provisioning."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.app import create_app
from tenantry.db.tenant import Tenant
from tenantry.tenants.audit_log import AuditEntry
from tests.integration.api.mailbox import mail_settings, mailbox  # noqa: F401 - fixture

PASSWORD = "a-long-owner-password"


@pytest.fixture
def signup_client(settings, db, mailbox):  # type: ignore[no-untyped-def]  # noqa: F811
    enabled = mail_settings(settings, mailbox.port).model_copy(
        update={"signup_enabled": True, "signup_rate": "4/minute"}
    )
    with TestClient(create_app(enabled, db)) as c:
        yield c


def _token(box, email: str) -> str:  # type: ignore[no-untyped-def]
    body = box.to(email)[-1].get_payload(decode=True).decode()
    return next(
        line.split(":", 1)[1].strip() for line in body.splitlines() if line.startswith("token:")
    )


def test_signup_is_off_unless_enabled(client):
    r = client.post("/api/signup", json={"business_name": "X", "slug": "xyz", "email": "a@b.test"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "signup_disabled"


def test_a_business_signs_up_with_a_verified_email(db, signup_client, mailbox):  # noqa: F811
    slug, email = f"su-{uuid.uuid4().hex[:8]}", f"founder-{uuid.uuid4().hex[:6]}@example.test"
    body = {"business_name": "Sparkle Windows", "slug": slug.upper(), "email": email}
    r = signup_client.post("/api/signup", json=body)
    assert r.status_code == 202, r.text
    with db.system_session(reason="test: inspect") as s:
        assert s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is None  # not yet
    token = _token(mailbox, email)
    bad = signup_client.post("/api/signup/verify", json={"token": token[:-2] + "xx",
                                                          "password": PASSWORD})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_token"
    done = signup_client.post("/api/signup/verify", json={"token": token, "password": PASSWORD})
    assert done.status_code == 201, done.text
    assert done.json()["slug"] == slug
    again = signup_client.post("/api/signup/verify", json={"token": token, "password": PASSWORD})
    assert again.status_code == 409
    login = signup_client.post(
        "/api/auth/login", json={"email": email, "password": PASSWORD, "tenant": slug}
    )
    assert login.status_code == 200, login.text
    assert signup_client.get("/api/tenant/current").json()["role"] == "owner"
    with db.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.target_slug == slug))
    assert entry is not None and entry.action == "tenant.signed_up"


def test_taken_and_lookalike_slugs_are_refused_before_any_mail(signup_client, tenant_a, mailbox):  # noqa: F811
    email = f"late-{uuid.uuid4().hex[:6]}@example.test"
    r = signup_client.post(
        "/api/signup", json={"business_name": "Copy", "slug": tenant_a.slug, "email": email}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "slug_taken"
    r = signup_client.post("/api/signup", json={"business_name": "A", "slug": "admin",
                                                "email": email})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_slug"
    assert mailbox.to(email) == []


def test_signup_is_rate_limited(settings, db, mailbox):  # noqa: F811
    limited = mail_settings(settings, mailbox.port).model_copy(
        update={"signup_enabled": True, "signup_rate": "2/minute"}
    )
    with TestClient(create_app(limited, db)) as c:
        codes = [
            c.post("/api/signup", json={"business_name": "R", "slug": f"rl-{uuid.uuid4().hex[:8]}",
                                        "email": "r@example.test"}).status_code
            for _ in range(3)
        ]  # fmt: skip
        assert codes[:2] == [202, 202] and codes[2] == 429

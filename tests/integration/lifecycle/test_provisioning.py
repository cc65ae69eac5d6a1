"""Provisioning: one transaction with owner, singleton settings and default permissions;
slug rules with clear errors."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tenantry.auth.models import Membership, User
from tenantry.db.tenant import Tenant
from tenantry.errors import TenantryError
from tenantry.kit.errors import SlugTaken
from tenantry.permissions.catalog import DEFAULT_MATRIX
from tenantry.permissions.models import RolePermission
from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds
from tenantry.tenants.audit_log import Actor, AuditEntry
from tenantry.tenants.lifecycle import create_tenant
from tenantry.tenants.slugs import InvalidSlug, normalize_slug, skeleton
from tests.factories import make_user
from tests.helpers import login

ACTOR = Actor(label="test:provisioning")


def _slug(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _create(db, slug: str, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("owner_email", f"owner-{uuid.uuid4().hex[:8]}@example.test")
    return create_tenant(db, slug=slug, name=kw.pop("name", "Acme Cleaning"), actor=ACTOR, **kw)


def test_create_tenant_provisions_owner_settings_and_default_permissions_at_once(db):
    created = _create(db, _slug(), owner_name="Olive Owner", owner_password="a-good-long-password")
    tid = created.tenant.id
    with db.system_session(reason="test: inspect") as s:
        member = s.get(Membership, (tid, created.owner_id))
        singletons = [
            s.scalar(select(func.count()).select_from(m).where(m.tenant_id == tid))
            for m in (BookingSettings, CommunicationSettings, Thresholds)
        ]
        perms = s.execute(
            select(RolePermission.role, RolePermission.permission).where(
                RolePermission.tenant_id == tid
            )
        ).all()
        entry = s.scalar(select(AuditEntry).where(AuditEntry.target_tenant_id == tid))
    assert member is not None and (member.role, member.status) == ("owner", "active")
    assert singletons == [1, 1, 1]
    by_role: dict[str, set[str]] = {}
    for role, permission in perms:
        by_role.setdefault(role, set()).add(permission)
    assert by_role == {"admin": set(DEFAULT_MATRIX["admin"]), "staff": set(DEFAULT_MATRIX["staff"])}
    assert entry is not None and entry.action == "tenant.created" and entry.actor == ACTOR.label
    assert created.owner_is_new and created.owner_invitation is None


def test_the_new_owner_signs_in_and_sees_an_uncustomised_matrix(db, client):
    email = f"owner-{uuid.uuid4().hex[:8]}@example.test"
    created = _create(db, _slug(), owner_email=email, owner_password="a-good-long-password")
    r = client.post(
        "/api/auth/login",
        json={"email": email, "password": "a-good-long-password", "tenant": created.tenant.slug},
    )
    assert r.status_code == 200, r.text
    matrix = client.get("/api/admin/permissions")
    assert matrix.status_code == 200, matrix.text
    assert not any(role["customized"] for role in matrix.json()["roles"])


def test_without_a_password_the_owner_is_invited_and_no_account_is_made(db):
    email = f"owner-{uuid.uuid4().hex[:8]}@example.test"
    created = _create(db, _slug(), owner_email=email.upper(), owner_name="Olive")
    invitation = created.owner_invitation
    assert created.owner_id is None and not created.owner_is_new and invitation is not None
    assert invitation.email == email
    tid = created.tenant.id
    with db.system_session(reason="test: inspect") as s:
        assert s.scalar(select(User.id).where(User.email == email)) is None
        count = select(func.count()).select_from(Membership)
        members = s.scalar(count.where(Membership.tenant_id == tid))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.target_tenant_id == tid))
    assert members == 0
    assert entry is not None and entry.details["owner_invited"] is True


def test_an_existing_account_is_invited_not_joined_and_keeps_its_password(db, client):
    person = make_user(db)
    created = _create(db, _slug(), owner_email=person.email.upper())
    assert not created.owner_is_new and created.owner_id is None
    assert created.owner_invitation is not None
    assert created.owner_invitation.email == person.email.lower()
    # An operator's word attaches nobody: the account is no member until it accepts.
    r = client.post(
        "/api/auth/login",
        json={"email": person.email, "password": person.password, "tenant": created.tenant.slug},
    )
    assert r.status_code in (401, 403), r.text
    login(client, person)
    pending = client.get("/api/auth/invitations").json()
    assert [(i["tenant_slug"], i["role"]) for i in pending] == [(created.tenant.slug, "owner")]
    accepted = client.post(f"/api/auth/invitations/{pending[0]['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert client.get("/api/tenant/current").json()["role"] == "owner"


def test_a_failure_midway_leaves_nothing_behind(db):
    slug = _slug()
    with pytest.raises(Exception):
        _create(db, slug, owner_password_hash="x" * 300)  # longer than the column
    with db.system_session(reason="test: inspect") as s:
        assert s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is None
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.target_slug == slug)) is None


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ACME-Plumbing", "acme-plumbing"),
        ("\uff41\uff43\uff4d\uff45-x", "acme-x"),
        (" Bob ", "bob"),
    ],
)
def test_slugs_are_case_folded(raw, folded):
    assert normalize_slug(raw) == folded


@pytest.mark.parametrize(
    "raw",
    ["-acme", "acme-", "ac_me", "a" * 64, "", "acme.io", "\u0430cme", "admin", "adm1n", "www"],
)
def test_bad_or_reserved_slugs_are_refused_with_a_clear_error(raw):
    with pytest.raises(InvalidSlug) as exc:
        normalize_slug(raw)
    assert exc.value.code == "invalid_slug" and exc.value.detail


@pytest.mark.parametrize(
    ("taken", "lookalike"),
    [("rn", "m"), ("m", "rn"), ("o", "0"), ("l", "1"), ("l", "i"), ("w", "vv"), ("d", "cl")],
)
def test_look_alikes_of_a_taken_slug_are_refused(db, taken, lookalike):
    stem = uuid.uuid4().hex[:8].replace("0", "a").replace("1", "b")
    stem = "".join(c for c in stem if c not in "ilmnorvwdc") or "xyz"
    first = f"q{stem}{taken}x"
    _create(db, first)
    with pytest.raises(SlugTaken) as exc:
        _create(db, f"q{stem}{lookalike}x")
    assert "looks too much like" in exc.value.detail
    with pytest.raises(SlugTaken):
        _create(db, first.upper())  # the same slug, case-folded


def test_skeletons_do_not_merge_distinct_slugs():
    assert skeleton("acme") != skeleton("acne")
    assert skeleton("globex") == skeleton("g1obex") == skeleton("gl0bex")


def test_bad_names_and_emails_are_clear_errors(db):
    with pytest.raises(TenantryError) as exc:
        _create(db, _slug(), name="   ")
    assert exc.value.code == "invalid_name"
    with pytest.raises(TenantryError) as exc:
        _create(db, _slug(), owner_email="not-an-email")
    assert exc.value.code == "invalid_email"


def test_users_table_is_untouched_when_the_slug_is_refused(db):
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    with pytest.raises(InvalidSlug):
        _create(db, "admin", owner_email=email)
    with db.system_session(reason="test: inspect") as s:
        assert s.scalar(select(User.id).where(User.email == email)) is None

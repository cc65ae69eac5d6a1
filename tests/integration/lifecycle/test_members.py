"""Memberships from the CLI/operator side: role changes and removal, audited, in force
from the member's next request; a tenant keeps an owner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenantry.tenants.audit_log import Actor, AuditEntry
from tenantry.tenants.members import LastOwner, MemberNotFound, UnknownRole, change_member
from tests.helpers import login

ACTOR = Actor(label="test:members")


def test_a_demoted_member_loses_access_on_the_next_request(db, client, tenant_a):
    login(client, tenant_a["admin"], tenant=tenant_a.slug)
    assert client.get("/api/admin/permissions").status_code == 200
    change = change_member(
        db, slug=tenant_a.slug, email=tenant_a["admin"].email, role="client",
        actor=ACTOR, reason="moved to the client side",
    )  # fmt: skip
    assert change.reduces_access and (change.before, change.after) == ("admin", "client")
    assert client.get("/api/admin/permissions").status_code == 403


def test_a_removed_member_is_refused_at_once_and_it_is_on_record(db, client, tenant_a):
    login(client, tenant_a["staff"], tenant=tenant_a.slug)
    change = change_member(
        db, slug=tenant_a.slug, user_id=tenant_a["staff"].user_id, remove=True,
        actor=ACTOR, reason="left the company",
    )  # fmt: skip
    assert change.reduces_access and change.after == "removed"
    r = client.get("/api/tenant/current")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    with db.session() as s:
        entry = s.scalar(
            select(AuditEntry).where(
                AuditEntry.target_tenant_id == tenant_a.id, AuditEntry.action == "member.removed"
            )
        )
    assert entry is not None and entry.details["email"] == tenant_a["staff"].email


def test_the_last_owner_stays(db, tenant_a):
    with pytest.raises(LastOwner):
        change_member(db, slug=tenant_a.slug, email=tenant_a["owner"].email, remove=True,
                      actor=ACTOR, reason="trying to orphan it")  # fmt: skip
    with pytest.raises(MemberNotFound):
        change_member(db, slug=tenant_a.slug, email="nobody@nowhere.test", role="staff",
                      actor=ACTOR, reason="no such person")  # fmt: skip
    with pytest.raises(UnknownRole):
        change_member(db, slug=tenant_a.slug, email=tenant_a["staff"].email, role="king",
                      actor=ACTOR, reason="not a role at all")  # fmt: skip

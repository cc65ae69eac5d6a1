"""The platform audit log is append-only: the app role cannot alter it, nor can the
migrator that owns it; suspend/reactivate need a reason and are on record."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tenantry.errors import TenantryError
from tenantry.tenants.audit_log import Actor, AuditEntry, ReasonRequired, record
from tenantry.tenants.lifecycle import reactivate_tenant, suspend_tenant
from tests.helpers import login

ACTOR = Actor(label="test:audit")


@pytest.fixture
def entry_id(db) -> int:  # type: ignore[no-untyped-def]
    marker = f"audit-test-{uuid.uuid4().hex}"
    with db.session() as s:  # the app role may append
        record(s, actor=ACTOR, action="test.appended", reason=marker)
    with db.session() as s:
        return int(s.scalar(select(AuditEntry.id).where(AuditEntry.reason == marker)))


@pytest.mark.parametrize(
    "statement",
    [
        "update platform_audit_log set reason = 'rewritten' where id = :id",
        "delete from platform_audit_log where id = :id",
        "truncate platform_audit_log",
    ],
)
@pytest.mark.parametrize("role", ["app", "migrator"])
def test_no_role_can_alter_the_audit_log(db, entry_id, statement, role):
    engine = db.app_engine if role == "app" else db.migrator_engine
    with pytest.raises(DBAPIError) as exc, engine.begin() as conn:
        conn.execute(text(statement), {"id": entry_id})
    assert "permission denied" in str(exc.value) or "append-only" in str(exc.value)
    with db.session() as s:
        assert s.get(AuditEntry, entry_id).reason.startswith("audit-test-")


def test_suspend_and_reactivate_need_a_reason_and_are_recorded(db, tenant_a, client):
    for reason in ("", "   ", "because"):
        with pytest.raises(ReasonRequired):
            suspend_tenant(db, slug=tenant_a.slug, reason=reason, actor=ACTOR)
    login(client, tenant_a["staff"], tenant=tenant_a.slug)
    assert client.get("/api/tenant/current").status_code == 200
    suspend_tenant(db, slug=tenant_a.slug, reason="unpaid invoices since March", actor=ACTOR)
    refused = client.get("/api/tenant/current")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tenant_suspended"
    with pytest.raises(TenantryError) as twice:
        suspend_tenant(db, slug=tenant_a.slug, reason="unpaid invoices again", actor=ACTOR)
    assert twice.value.code == "invalid_transition"
    reactivate_tenant(db, slug=tenant_a.slug, reason="paid in full on 2 April", actor=ACTOR)
    assert client.get("/api/tenant/current").status_code == 200
    with db.session() as s:
        rows = s.execute(
            select(AuditEntry.action, AuditEntry.reason, AuditEntry.actor)
            .where(AuditEntry.target_tenant_id == tenant_a.id)
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("tenant.suspended", "unpaid invoices since March", ACTOR.label),
        ("tenant.reactivated", "paid in full on 2 April", ACTOR.label),
    ]


def test_an_unknown_slug_is_a_clear_error(db):
    with pytest.raises(TenantryError) as exc:
        suspend_tenant(db, slug="no-such-tenant-here", reason="a valid reason", actor=ACTOR)
    assert exc.value.code == "tenant_not_found"

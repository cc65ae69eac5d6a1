"""The operator API: superadmins only, a stated reason on every access, each access
on the append-only audit log before any data is read."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tenantry.tenants.audit_log import Actor, AuditEntry
from tenantry.tenants.lifecycle import set_operator
from tests.factories import make_service, make_user
from tests.helpers import login

REASON = "ticket 4411: customer cannot see invoices"


@pytest.fixture
def operator(db, client):  # type: ignore[no-untyped-def]
    person = make_user(db)
    set_operator(db, email=person.email, grant=True, reason="on-call operator", actor=Actor("test"))
    login(client, person)
    return person


def _entries(db, user_id) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.actor_user_id == user_id)
                .order_by(AuditEntry.id)
            )
        )


READS = [
    "/api/operator/tenants",
    "/api/operator/tenants/{slug}",
    "/api/operator/tenants/{slug}/tables/services",
    "/api/operator/audit-log",
]


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("reason", [None, "", "   ", "why"])
def test_every_operator_read_without_a_reason_is_refused(
    db, client, operator, tenant_a, path, reason
):
    params = {} if reason is None else {"reason": reason}
    r = client.get(path.format(slug=tenant_a.slug), params=params)
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required", r.text
    assert _entries(db, operator.user_id) == []


@pytest.mark.parametrize("path", READS)
def test_members_and_strangers_are_not_operators(db, client, tenant_a, path):
    login(client, tenant_a["owner"], tenant=tenant_a.slug)
    r = client.get(path.format(slug=tenant_a.slug), params={"reason": REASON})
    assert r.status_code == 403 and r.json()["error"]["code"] == "operator_required"
    client.cookies.clear()
    assert client.get(path.format(slug=tenant_a.slug), params={"reason": REASON}).status_code == 401


def test_an_operator_reads_a_tenant_for_support_and_every_read_is_on_record(
    db, client, operator, tenant_a, tenant_b
):
    make_service(db, tenant_a.id, name="Gutter clearing")
    listed = client.get("/api/operator/tenants", params={"reason": REASON})
    assert listed.status_code == 200
    by_slug = {t["slug"]: t for t in listed.json()["items"]}
    assert by_slug[tenant_a.slug]["rows"] >= 5 and by_slug[tenant_a.slug]["status"] == "active"
    detail = client.get(f"/api/operator/tenants/{tenant_a.slug}", params={"reason": REASON})
    counts = {t["table"]: t["rows"] for t in detail.json()["tables"]}
    assert counts["services"] == 1 and counts["tenant_memberships"] == 4
    rows = client.get(
        f"/api/operator/tenants/{tenant_a.slug}/tables/services", params={"reason": REASON}
    ).json()["rows"]
    assert [r["name"] for r in rows] == ["Gutter clearing"]
    assert {r["tenant_id"] for r in rows} == {str(tenant_a.id)}
    missing = client.get(
        f"/api/operator/tenants/{tenant_a.slug}/tables/users", params={"reason": REASON}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "table_not_found"
    log = client.get("/api/operator/audit-log", params={"reason": REASON, "tenant": tenant_a.slug})
    assert log.status_code == 200
    entries = _entries(db, operator.user_id)
    assert [e.action for e in entries] == [
        "operator.tenants_listed", "operator.tenant_read", "operator.rows_read",
        "operator.audit_log_read",
    ]  # fmt: skip
    assert all(e.reason == REASON and e.actor == f"operator:{operator.email}" for e in entries)
    assert entries[1].target_tenant_id == tenant_a.id
    assert entries[2].details == {"table": "services", "limit": 50, "offset": 0}


def test_an_operator_creates_suspends_and_reactivates_a_tenant(db, client, operator):
    slug = f"op-{uuid.uuid4().hex[:8]}"
    body = {"slug": slug, "name": "Operator Made", "owner_email": f"o-{slug}@example.test",
            "reason": "signed contract #88"}  # fmt: skip
    created = client.post("/api/operator/tenants", json=body)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["owner_id"] is None and not out["owner_is_new"]
    assert out["owner_invitation"]["email"] == body["owner_email"]
    assert "password" not in created.text.lower()  # issue 8: no password in any response
    again = client.post("/api/operator/tenants", json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "slug_taken"
    bad = client.post("/api/operator/tenants", json={**body, "slug": "-nope"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_slug"
    no_reason = client.post(f"/api/operator/tenants/{slug}/suspend", json={"reason": " "})
    assert no_reason.status_code == 400
    r = client.post(f"/api/operator/tenants/{slug}/suspend", json={"reason": "fraud review #9"})
    assert r.json() == {"slug": slug, "status": "suspended"}
    r = client.post(f"/api/operator/tenants/{slug}/reactivate", json={"reason": "review closed"})
    assert r.json() == {"slug": slug, "status": "active"}
    actions = [e.action for e in _entries(db, operator.user_id)]
    assert actions == ["tenant.created", "tenant.suspended", "tenant.reactivated"]


def test_revoking_the_operator_role_stops_the_next_request(db, client, operator):
    assert client.get("/api/operator/tenants", params={"reason": REASON}).status_code == 200
    set_operator(db, email=operator.email, grant=False, reason="left the team", actor=Actor("t"))
    r = client.get("/api/operator/tenants", params={"reason": REASON})
    assert r.status_code == 403


def test_an_operator_changes_and_removes_members_on_record(db, client, operator, tenant_a, app):
    from fastapi.testclient import TestClient

    with TestClient(app) as member:
        login(member, tenant_a["admin"], tenant=tenant_a.slug)
        base = f"/api/operator/tenants/{tenant_a.slug}/members/{tenant_a['admin'].user_id}"
        r = client.post(f"{base}/role", json={"role": "client", "reason": "ticket 12: demote"})
        assert r.status_code == 200
        assert (r.json()["before"], r.json()["after"]) == ("admin", "client")
        assert member.get("/api/admin/permissions").status_code == 403  # at once
        r = client.post(f"{base}/remove", json={"reason": "ticket 12: offboard"})
        assert r.status_code == 200 and r.json()["after"] == "removed"
        assert member.get("/api/tenant/current").status_code == 403
    owner = f"/api/operator/tenants/{tenant_a.slug}/members/{tenant_a['owner'].user_id}"
    r = client.post(f"{owner}/remove", json={"reason": "ticket 13: remove owner"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner"
    actions = [e.action for e in _entries(db, operator.user_id)]
    assert actions == ["member.role_changed", "member.removed"]

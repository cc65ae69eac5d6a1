"""Chat: the team thread, request threads (admin) and a client's own threads (portal)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tenantry.chat.models import ChatMessage
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.tenants.lifecycle import add_member
from tests.factories import make_user
from tests.helpers import code, login, module_tenant
from tests.integration.api.test_attachments import make_request

tenant_a = module_tenant("tenant_a")
tenant_b = module_tenant("tenant_b")


def count(db, tenant, request_id=None) -> int:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        q = select(func.count()).select_from(ChatMessage)
        if request_id is not None:
            q = q.where(ChatMessage.service_request_id == request_id)
        return s.scalar(q) or 0


# ------------------------------------------------------------------ team chat


def test_staff_posts_to_and_reads_the_team_chat_newest_last(client, tenant_a):
    login(client, tenant_a["staff"])
    tag = uuid.uuid4().hex[:6]
    for i in range(3):
        r = client.post("/api/admin/chat", json={"body": f"{tag} message {i}"})
        assert r.status_code == 201, r.text
        assert r.json()["sender_id"] == str(tenant_a["staff"].user_id)
        assert r.json()["service_request_id"] is None
    page = client.get("/api/admin/chat", params={"limit": 2}).json()
    assert [m["body"] for m in page["items"]] == [f"{tag} message 1", f"{tag} message 2"]
    older = client.get("/api/admin/chat", params={"limit": 2, "offset": 2}).json()
    assert older["items"][-1]["body"] == f"{tag} message 0"
    assert page["total"] >= 3


def test_client_may_not_read_or_write_the_team_chat(client, db, tenant_a):
    login(client, tenant_a["client"])
    before = count(db, tenant_a)
    r = client.get("/api/admin/chat")
    assert r.status_code == 403 and code(r) == "role_required"
    r = client.post("/api/admin/chat", json={"body": "hi"})
    assert r.status_code == 403 and code(r) == "role_required"
    assert count(db, tenant_a) == before


def test_team_chats_of_two_tenants_never_mix(client, db, tenant_a, tenant_b):
    login(client, tenant_b["admin"])
    secret = f"b-only {uuid.uuid4().hex}"
    assert client.post("/api/admin/chat", json={"body": secret}).status_code == 201
    login(client, tenant_a["admin"])
    bodies = [
        m["body"] for m in client.get("/api/admin/chat", params={"limit": 200}).json()["items"]
    ]
    assert secret not in bodies


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 4001])
def test_an_empty_blank_or_too_long_message_is_422_and_nothing_stored(client, db, tenant_a, body):
    login(client, tenant_a["staff"])
    before = count(db, tenant_a)
    r = client.post("/api/admin/chat", json={"body": body})
    assert r.status_code == 422 and code(r) == "validation_error"
    assert count(db, tenant_a) == before


def test_a_sender_or_tenant_in_the_body_is_refused(client, db, tenant_a, tenant_b):
    login(client, tenant_a["staff"])
    before = count(db, tenant_a)
    r = client.post(
        "/api/admin/chat",
        json={
            "body": "x",
            "sender_id": str(tenant_b["owner"].user_id),
            "tenant_id": str(tenant_b.id),
        },
    )
    assert r.status_code == 422
    assert count(db, tenant_a) == before


def test_a_message_of_exactly_4000_characters_is_accepted(client, tenant_a):
    login(client, tenant_a["staff"])
    assert client.post("/api/admin/chat", json={"body": "y" * 4000}).status_code == 201


# ------------------------------------------------------------------ request threads


def test_staff_and_the_requests_client_talk_in_one_thread(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["staff"])
    assert (
        client.post(
            f"/api/admin/service-requests/{request_id}/chat", json={"body": "We come on Tuesday."}
        ).status_code
        == 201
    )
    login(client, tenant_a["client"])
    r = client.post(
        f"/api/portal/service-requests/{request_id}/chat", json={"body": "Thanks, 9am works."}
    )
    assert r.status_code == 201 and r.json()["sender_id"] == str(tenant_a["client"].user_id)
    thread = client.get(f"/api/portal/service-requests/{request_id}/chat").json()
    assert [m["body"] for m in thread["items"]] == ["We come on Tuesday.", "Thanks, 9am works."]
    login(client, tenant_a["staff"])
    admin_view = client.get(f"/api/admin/service-requests/{request_id}/chat").json()
    assert admin_view["total"] == 2
    # The request thread is not the team chat.
    team = client.get("/api/admin/chat", params={"limit": 200}).json()["items"]
    assert "Thanks, 9am works." not in [m["body"] for m in team]


def test_client_may_not_use_the_admin_request_chat(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["client"])
    for r in (
        client.get(f"/api/admin/service-requests/{request_id}/chat"),
        client.post(f"/api/admin/service-requests/{request_id}/chat", json={"body": "x"}),
    ):
        assert r.status_code == 403 and code(r) == "role_required"
    assert count(db, tenant_a, request_id) == 0


def test_staff_may_not_use_the_portal_chat(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["staff"])
    r = client.post(f"/api/portal/service-requests/{request_id}/chat", json={"body": "x"})
    assert r.status_code == 403 and code(r) == "role_required"


def test_staff_of_a_cannot_read_or_write_a_request_thread_of_b(client, db, tenant_a, tenant_b):
    request_b = make_request(db, tenant_b)
    login(client, tenant_b["staff"])
    client.post(f"/api/admin/service-requests/{request_b}/chat", json={"body": "b internal"})
    login(client, tenant_a["owner"])
    r = client.get(f"/api/admin/service-requests/{request_b}/chat")
    assert r.status_code == 404 and code(r) == "not_found"
    r = client.post(f"/api/admin/service-requests/{request_b}/chat", json={"body": "intrusion"})
    assert r.status_code == 404
    assert count(db, tenant_b, request_b) == 1
    assert count(db, tenant_a, request_b) == 0


def test_unknown_request_thread_is_404(client, tenant_a):
    login(client, tenant_a["staff"])
    assert client.get(f"/api/admin/service-requests/{uuid.uuid4()}/chat").status_code == 404
    r = client.post(f"/api/admin/service-requests/{uuid.uuid4()}/chat", json={"body": "x"})
    assert r.status_code == 404


def test_client_cannot_reach_another_clients_thread(client, db, tenant_a):
    request_id = make_request(db, tenant_a)  # belongs to tenant_a["client"]
    other = make_user(db)
    add_member(db, tenant_id=tenant_a.id, user_id=other.user_id, role="client")
    login(client, other)
    assert client.get(f"/api/portal/service-requests/{request_id}/chat").status_code == 404
    r = client.post(f"/api/portal/service-requests/{request_id}/chat", json={"body": "x"})
    assert r.status_code == 404 and code(r) == "not_found"
    assert count(db, tenant_a, request_id) == 0


def test_client_of_b_cannot_reach_a_thread_of_a(client, db, tenant_a, tenant_b):
    request_a = make_request(db, tenant_a)
    login(client, tenant_b["client"])
    assert client.get(f"/api/portal/service-requests/{request_a}/chat").status_code == 404
    assert (
        client.post(
            f"/api/portal/service-requests/{request_a}/chat", json={"body": "x"}
        ).status_code
        == 404
    )
    assert count(db, tenant_a, request_a) == 0 and count(db, tenant_b, request_a) == 0


def test_portal_message_validation_is_422(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["client"])
    r = client.post(f"/api/portal/service-requests/{request_id}/chat", json={"body": ""})
    assert r.status_code == 422
    r = client.get(f"/api/portal/service-requests/{request_id}/chat", params={"limit": 0})
    assert r.status_code == 422
    assert count(db, tenant_a, request_id) == 0

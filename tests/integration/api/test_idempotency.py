"""Idempotency-Key on POSTs of tenant routes (middleware + tenant_router guard)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.app import create_app
from tenantry.auth.dependencies import CurrentTenant
from tenantry.expenses.models import Expense
from tenantry.idempotency import service
from tenantry.idempotency.models import IdempotencyKey
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.routing import tenant_router
from tests.factories import make_tenant
from tests.helpers import code, login

URL = "/api/admin/expenses"


def body(amount=1_000, category="fuel") -> dict:
    return {"amount_cents": amount, "category": category, "incurred_on": str(date.today())}


def expense_ids(db, tenant_id) -> set[uuid.UUID]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return set(s.scalars(select(Expense.id)).all())


def key_rows(db, tenant_id) -> dict[str, IdempotencyKey]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return {k.key: k for k in s.scalars(select(IdempotencyKey)).all()}


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def ta(db):
    return make_tenant(db, roles=("admin", "staff", "client"))


@pytest.fixture(scope="module")
def tb(db):
    return make_tenant(db, roles=("admin",))


def _signed_in(app, member):
    c = TestClient(app)
    c.__enter__()
    login(c, member)
    return c


@pytest.fixture(scope="module")
def as_a(app, ta):
    clients = {role: _signed_in(app, ta[role]) for role in ("admin", "staff", "client")}
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def admin_b(app, tb):
    c = _signed_in(app, tb["admin"])
    yield c
    c.__exit__(None, None, None)


def test_a_replay_returns_the_identical_response_and_creates_nothing(db, as_a, ta):
    key = new_key()
    first = as_a["admin"].post(URL, json=body(), headers={"Idempotency-Key": key})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    after_first = expense_ids(db, ta.id)
    again = as_a["admin"].post(URL, json=body(), headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert expense_ids(db, ta.id) == after_first
    assert key_rows(db, ta.id)[key].response_status == 201


def test_the_same_key_with_another_body_or_path_is_409(db, as_a, ta):
    key = new_key()
    as_a["admin"].post(URL, json=body(), headers={"Idempotency-Key": key})
    before = expense_ids(db, ta.id)
    r = as_a["admin"].post(URL, json=body(amount=2_000), headers={"Idempotency-Key": key})
    assert r.status_code == 409 and code(r) == "idempotency_key_reused"
    r = as_a["admin"].post(f"{URL}/{uuid.uuid4()}/approve", headers={"Idempotency-Key": key})
    assert r.status_code == 409 and code(r) == "idempotency_key_reused"
    assert expense_ids(db, ta.id) == before


def test_another_member_cannot_replay_someone_elses_key(db, as_a, ta):
    key = new_key()
    as_a["admin"].post(URL, json=body(), headers={"Idempotency-Key": key})
    before = expense_ids(db, ta.id)
    r = as_a["staff"].post(URL, json=body(), headers={"Idempotency-Key": key})
    assert r.status_code == 409 and code(r) == "idempotency_key_reused"
    assert expense_ids(db, ta.id) == before


def test_the_same_key_in_another_tenant_is_independent(db, as_a, admin_b, ta, tb):
    key = new_key()
    a = as_a["admin"].post(URL, json=body(), headers={"Idempotency-Key": key})
    b = admin_b.post(URL, json=body(), headers={"Idempotency-Key": key})
    assert a.status_code == b.status_code == 201
    assert "idempotent-replayed" not in b.headers and a.json()["id"] != b.json()["id"]
    assert uuid.UUID(b.json()["id"]) in expense_ids(db, tb.id)
    assert uuid.UUID(b.json()["id"]) not in expense_ids(db, ta.id)
    assert key in key_rows(db, ta.id) and key in key_rows(db, tb.id)


def test_without_the_header_every_post_runs(db, as_a, ta):
    before = expense_ids(db, ta.id)
    first = as_a["admin"].post(URL, json=body())
    second = as_a["admin"].post(URL, json=body())
    assert first.status_code == second.status_code == 201
    assert len(expense_ids(db, ta.id) - before) == 2


def test_a_request_still_in_progress_is_409(db, as_a, ta):
    key = new_key()
    fingerprint = service.request_fingerprint("POST", URL, b"", b"{}")
    with tenant_context(TenantContext(tenant_id=ta.id)), db.session() as s:
        s.add(
            IdempotencyKey(
                key=key,
                method="POST",
                path=URL,
                request_hash=service.request_hash(ta["admin"].user_id, fingerprint),
            )
        )
    r = as_a["admin"].post(
        URL, content=b"{}", headers={"Idempotency-Key": key, "content-type": "application/json"}
    )
    assert r.status_code == 409 and code(r) == "idempotency_in_progress"


def test_a_validation_error_is_kept_and_replayed(db, as_a, ta):
    key = new_key()
    first = as_a["admin"].post(URL, json={"amount_cents": 0}, headers={"Idempotency-Key": key})
    again = as_a["admin"].post(URL, json={"amount_cents": 0}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 422
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"


def test_a_refusal_by_role_is_not_kept(db, as_a, ta):
    key = new_key()
    r = as_a["client"].post(URL, json=body(), headers={"Idempotency-Key": key})
    assert r.status_code == 403 and code(r) == "role_required"
    assert key not in key_rows(db, ta.id)


def test_a_malformed_key_is_422_and_nothing_is_stored(db, as_a, ta):
    before = expense_ids(db, ta.id)
    r = as_a["admin"].post(URL, json=body(), headers={"Idempotency-Key": "x" * 256})
    assert r.status_code == 422 and code(r) == "idempotency_key_invalid"
    assert expense_ids(db, ta.id) == before


def test_the_header_is_ignored_on_routes_without_a_tenant(client, ta):
    r = client.post(
        "/api/auth/login",
        json={"email": ta["admin"].email, "password": ta["admin"].password},
        headers={"Idempotency-Key": new_key()},
    )
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers


def test_a_server_error_releases_the_key_so_the_client_can_retry(settings, db):
    tenant = make_tenant(db, roles=("admin",))
    app = create_app(settings, db)
    router = tenant_router(prefix="/api/test-idempotency")
    calls: list[int] = []

    @router.post("/flaky")
    def flaky(ctx: CurrentTenant) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"calls": len(calls)}

    app.include_router(router)
    key = new_key()
    with TestClient(app, raise_server_exceptions=False) as c:
        login(c, tenant["admin"])
        first = c.post("/api/test-idempotency/flaky", headers={"Idempotency-Key": key})
        assert first.status_code == 500
        assert key not in key_rows(db, tenant.id)
        second = c.post("/api/test-idempotency/flaky", headers={"Idempotency-Key": key})
        third = c.post("/api/test-idempotency/flaky", headers={"Idempotency-Key": key})
    assert second.json() == third.json() == {"calls": 2}
    assert third.headers["idempotent-replayed"] == "true" and len(calls) == 2

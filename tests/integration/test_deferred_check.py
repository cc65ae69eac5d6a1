"""The deferred access check (one call into the unit per request, issue 11): attacks first.

For a session this process verified before, ``require_tenant`` guesses the member's
role and defers the check (session row, session version, tenant status, membership)
into the endpoint's worker thread, as the first statement of the request's pinned
transaction. These tests warm a session (one eager check), change something behind
its back, and check that the very next request is refused exactly as before — and
that the refusal came from the DEFERRED path (one call: no eager check ran) — and
that nothing was spent first: no quota, no idempotency claim or replay, no upload on
disk, no ``role_required`` event in place of the real refusal. A role that changed
re-runs the request with the check first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import structlog.testing
from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.app import create_app
from tenantry.auth import service as auth_service
from tenantry.db.engine import Database
from tenantry.idempotency.models import IdempotencyKey
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.kit.cache import tenant_cache
from tenantry.observability import security
from tenantry.services.models import Service
from tenantry.settings import Settings
from tests.factories import REVOCATIONS, make_tenant, revoke, set_membership
from tests.helpers import code, login
from tests.hops import counting

BOOKINGS = "/api/admin/bookings"
EXPENSES = "/api/admin/expenses"
CONTACT = "/api/admin/contact-submissions"  # contact.read: admins, not staff
PORTAL = "/api/portal/bookings"  # RequireRole("client")


@pytest.fixture(scope="module")
def app(settings: Settings, db: Database) -> Any:
    return create_app(settings, db)


@contextmanager
def hops() -> Iterator[list[str]]:
    """The sync work handed over meanwhile, one name per hand-over: calls onto the event
    loop (every call into a request's unit) and hops to a worker thread."""
    with counting() as seen:
        yield seen.calls


@contextmanager
def security_events() -> Iterator[list[security.SecurityEvent]]:
    events: list[security.SecurityEvent] = []
    name = f"test-{uuid.uuid4().hex}"
    security.add_sink(name, events.append)
    try:
        yield events
    finally:
        security.remove_sink(name)


@contextmanager
def warm(app: Any, member: Any, path: str = BOOKINGS) -> Iterator[TestClient]:
    """A signed-in client whose session was verified once (the role guessed next)."""
    with TestClient(app) as client:
        login(client, member)
        assert client.get(path).status_code == 200
        yield client


def test_a_verified_session_reads_with_one_call_and_a_new_one_with_two(
    app: Any, db: Database
) -> None:
    fresh = make_tenant(db, roles=("staff",))
    with TestClient(app) as client:
        login(client, fresh["staff"])
        with hops() as first:
            assert client.get(BOOKINGS).status_code == 200
        with counting() as second:
            assert client.get(BOOKINGS).status_code == 200
    # The first: the eager check in a call of its own (and first-time look-ups).
    assert any("check_access" in hop for hop in first), first
    # check + endpoint + commit in one call on the event loop, no worker thread
    assert second.loop == ["RequestUnit.run"] and second.threads == [], second


@pytest.mark.parametrize("revocation", REVOCATIONS)
def test_the_very_next_deferred_request_is_refused(app: Any, db: Database, revocation: str) -> None:
    fresh = make_tenant(db, roles=("staff",))
    member = fresh["staff"]
    with warm(app, member) as client:
        expected = revoke(db, fresh, member, revocation)
        with hops() as seen, security_events() as events:
            r = client.get(BOOKINGS)
    assert r.status_code == 403 and code(r) == expected, r.text
    assert len(seen) == 1, seen  # the deferred path refused it (no eager check ran)
    mine = [e for e in events if e.user_id == member.user_id or e.tenant_id == fresh.id]
    assert [e.code for e in mine] == [expected]
    assert mine[0].tenant_id == fresh.id  # attributed as the eager check attributes it


def test_a_refusal_wins_over_a_body_error_on_the_deferred_path(app: Any, db: Database) -> None:
    fresh = make_tenant(db, roles=("staff",))
    with warm(app, fresh["staff"]) as client:
        assert client.post(BOOKINGS, json={"service_id": "nope"}).status_code == 422
        auth_service.revoke_all_sessions(db, fresh["staff"].user_id)
        r = client.post(BOOKINGS, json={"service_id": "nope"})
    assert r.status_code == 403 and code(r) == "session_revoked", r.text


def test_a_refused_deferred_request_is_not_attributed_to_the_tenant(app: Any, db: Database) -> None:
    """What binding the request to the tenant set is undone, as if the check had
    refused first: the request log names no tenant or user."""
    fresh = make_tenant(db, roles=("staff",))
    with warm(app, fresh["staff"]) as client:
        auth_service.revoke_all_sessions(db, fresh["staff"].user_id)
        with structlog.testing.capture_logs() as logs:
            assert client.get(BOOKINGS).status_code == 403
    lines = [line for line in logs if line.get("event") == "request"]
    assert lines and lines[-1]["status"] == 403
    assert lines[-1]["tenant_id"] is None and lines[-1]["user_id"] is None, lines[-1]


def test_a_revoked_session_neither_claims_nor_replays_an_idempotency_key(
    app: Any, db: Database
) -> None:
    fresh = make_tenant(db, roles=("admin",))
    admin = fresh["admin"]
    body = {"amount_cents": 1_000, "category": "fuel", "incurred_on": str(date.today())}
    stored, unclaimed = f"key-{uuid.uuid4().hex}", f"key-{uuid.uuid4().hex}"
    with warm(app, admin, EXPENSES) as client:
        first = client.post(EXPENSES, json=body, headers={"Idempotency-Key": stored})
        assert first.status_code == 201
        auth_service.revoke_all_sessions(db, admin.user_id)
        replay = client.post(EXPENSES, json=body, headers={"Idempotency-Key": stored})
        claim = client.post(EXPENSES, json=body, headers={"Idempotency-Key": unclaimed})
    assert replay.status_code == 403 and code(replay) == "session_revoked", replay.text
    assert "idempotent-replayed" not in replay.headers
    assert claim.status_code == 403 and code(claim) == "session_revoked", claim.text
    with tenant_context(TenantContext(tenant_id=fresh.id)), db.session() as s:
        keys = set(s.scalars(select(IdempotencyKey.key)).all())
    assert keys == {stored}


def test_a_revoked_session_writes_no_upload_to_disk(
    app: Any, db: Database, settings: Settings
) -> None:
    fresh = make_tenant(db, roles=("staff",))
    with warm(app, fresh["staff"]) as client:
        auth_service.revoke_all_sessions(db, fresh["staff"].user_id)
        r = client.post(
            f"/api/admin/expenses/{uuid.uuid4()}/attachments",
            files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")},
        )
    assert r.status_code == 403 and code(r) == "session_revoked", r.text
    assert not (settings.upload_dir / str(fresh.id)).exists()


def test_a_revoked_session_spends_no_quota(settings: Settings, db: Database) -> None:
    budgets = {"tenant_rate_limit": "6/minute", "user_rate_limit": "4/minute"}
    limited = create_app(settings.model_copy(update=budgets), db)
    fresh = make_tenant(db, roles=("owner", "admin"))
    with warm(limited, fresh["owner"]) as owner:  # 1 of the tenant's 6
        auth_service.revoke_all_sessions(db, fresh["owner"].user_id)
        assert {owner.get(BOOKINGS).status_code for _ in range(6)} == {403}
    with TestClient(limited) as admin:
        login(admin, fresh["admin"])
        assert [admin.get(BOOKINGS).status_code for _ in range(4)] == [200] * 4


def test_with_quotas_on_a_warm_request_takes_one_call_and_is_counted_once(
    settings: Settings, db: Database
) -> None:
    """Quotas on: the count happens in the unit, right after the deferred check passed
    (one call, not a call for the check and then the count on the event loop)."""
    limited = create_app(settings.model_copy(update={"tenant_rate_limit": "6/minute"}), db)
    fresh = make_tenant(db, roles=("owner", "admin"))
    with warm(limited, fresh["owner"]) as owner:  # 1 of the tenant's 6
        with hops() as seen:
            assert owner.get(BOOKINGS).status_code == 200  # 2 of 6, deferred
        assert len(seen) == 1, seen
    with TestClient(limited) as admin:
        login(admin, fresh["admin"])
        # 4 more fill the 6 (the deferred one counted exactly once), the next is refused.
        assert [admin.get(BOOKINGS).status_code for _ in range(5)] == [200] * 4 + [429]


def test_a_revoked_session_on_the_deferred_path_with_quotas_on_spends_nothing(
    settings: Settings, db: Database
) -> None:
    limited = create_app(settings.model_copy(update={"tenant_rate_limit": "6/minute"}), db)
    fresh = make_tenant(db, roles=("owner", "admin"))
    with warm(limited, fresh["owner"]) as owner:  # 1 of 6
        auth_service.revoke_all_sessions(db, fresh["owner"].user_id)
        with hops() as seen:
            r = owner.get(BOOKINGS)
        assert r.status_code == 403 and code(r) == "session_revoked", r.text
        assert len(seen) == 1, seen  # refused on the deferred path
        assert {owner.get(BOOKINGS).status_code for _ in range(6)} == {403}
    with TestClient(limited) as admin:
        login(admin, fresh["admin"])
        assert [admin.get(BOOKINGS).status_code for _ in range(6)] == [200] * 5 + [429]


def test_a_deferred_request_past_the_budget_is_refused_before_the_endpoint(
    settings: Settings, db: Database
) -> None:
    """The count refuses in the unit, after the check and before the endpoint: a write
    past the budget writes nothing, and its 429 belongs to the tenant.

    A budget already spent is refused at the door (``refuse_spent_quota``), so the
    count refuses only when another request took the last slot in between: that
    request is played here, right after the door let this one through."""
    limited = create_app(settings.model_copy(update={"tenant_rate_limit": "3/minute"}), db)
    limiter = limited.state.quotas
    fresh = make_tenant(db, roles=("owner",))
    body = {"slug": f"svc-{uuid.uuid4().hex[:8]}", "name": "Deep clean",
            "price_cents": 12000, "duration_minutes": 120}  # fmt: skip
    door = limiter.refuse_if_spent

    async def racing(tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        await door(tenant_id, user_id)
        await limiter.check(tenant_id, user_id)  # the other request, counted meanwhile

    with warm(limited, fresh["owner"], "/api/admin/services") as owner:  # 1 of 3
        assert owner.get("/api/admin/services").status_code == 200  # 2 of 3, deferred
        limiter.refuse_if_spent = racing
        try:
            with hops() as seen, security_events() as events:
                r = owner.post("/api/admin/services", json=body)  # the race took 3 of 3
        finally:
            del limiter.refuse_if_spent
    assert r.status_code == 429 and code(r) == "rate_limited", r.text
    assert len(seen) == 1, seen  # the deferred path counted it and refused
    assert [e.code for e in events if e.tenant_id == fresh.id] == ["rate_limited"]
    with tenant_context(TenantContext(tenant_id=fresh.id)), db.session() as s:
        assert s.scalar(select(Service.id).where(Service.slug == body["slug"])) is None


def test_a_removed_member_on_a_route_of_another_role_is_not_a_member_not_role_required(
    app: Any, db: Database
) -> None:
    """The guessed role fails the route's role check: the deferred check runs before
    that refusal is made (or logged), and its own refusal wins."""
    fresh = make_tenant(db, roles=("staff", "client"))
    with warm(app, fresh["staff"]) as staff, warm(app, fresh["client"], PORTAL) as client:
        set_membership(db, fresh, fresh["staff"].user_id, status="removed")
        set_membership(db, fresh, fresh["client"].user_id, status="removed")
        with security_events() as events:
            by_role = staff.get(PORTAL)  # RequireRole("client"), guessed staff
            by_permission = client.get(BOOKINGS)  # RequirePermission, guessed client
    assert code(by_role) == "not_a_member", by_role.text
    assert code(by_permission) == "not_a_member", by_permission.text
    assert "role_required" not in {e.code for e in events if e.tenant_id == fresh.id}


def test_a_revoked_session_is_refused_when_the_permission_matrix_is_not_cached(
    app: Any, db: Database
) -> None:
    fresh = make_tenant(db, roles=("staff",))
    with warm(app, fresh["staff"]) as client:
        auth_service.revoke_all_sessions(db, fresh["staff"].user_id)
        with tenant_context(TenantContext(tenant_id=fresh.id)):
            tenant_cache.invalidate()
        r = client.get(BOOKINGS)
    assert r.status_code == 403 and code(r) == "session_revoked", r.text


def test_a_changed_role_reruns_the_request_with_the_check_first(app: Any, db: Database) -> None:
    fresh = make_tenant(db, roles=("owner", "admin", "staff", "client"))
    with (
        warm(app, fresh["staff"]) as promoted,
        warm(app, fresh["admin"], CONTACT) as demoted,
        warm(app, fresh["client"], PORTAL) as moved,
    ):
        set_membership(db, fresh, fresh["staff"].user_id, role="admin")
        set_membership(db, fresh, fresh["admin"].user_id, role="staff")
        set_membership(db, fresh, fresh["client"].user_id, role="staff")
        with hops() as seen:
            up = promoted.get(CONTACT)  # guessed staff: refused on the guess, then rerun
        down = demoted.get(CONTACT)  # guessed admin: passes on the guess, check says staff
        portal = moved.get(PORTAL)  # RequireRole("client"), the member is staff now
        again = promoted.get(CONTACT)
    assert up.status_code == 200, up.text
    assert len(seen) >= 2, seen  # the guess's check, then the eager rerun
    assert down.status_code == 403 and code(down) == "role_required", down.text
    assert portal.status_code == 403 and code(portal) == "role_required", portal.text
    assert again.status_code == 200

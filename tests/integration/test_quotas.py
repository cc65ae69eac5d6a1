"""Per-tenant and per-user request budgets (memory storage), through the real app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenantry.app import create_app
from tenantry.db.engine import Database
from tenantry.isolation.scopes import iter_routes
from tenantry.quotas.gate import GATE_ROUTE, TenantPaths
from tenantry.settings import Settings
from tests.factories import Member, TenantFixture, add_client, make_tenant
from tests.helpers import login
from tests.roundtrips import trace_engine

CURRENT = "/api/tenant/current"


@pytest.fixture
def limited(settings: Settings, db: Database) -> Any:
    return create_app(
        settings.model_copy(
            update={
                "tenant_rate_limit": "6/minute",
                "user_rate_limit": "4/minute",
                "metrics_token": "t",
            }
        ),
        db,
    )


def client_of(app: Any, member: Member) -> TestClient:
    client = TestClient(app)
    login(client, member)
    return client


@pytest.fixture
def clients(limited: Any) -> Iterator[list[TestClient]]:
    made: list[TestClient] = []
    yield made
    for c in made:
        c.close()


def statuses(client: TestClient, n: int, **kw: Any) -> list[int]:
    return [client.get(CURRENT, **kw).status_code for _ in range(n)]


def test_a_user_is_stopped_at_their_budget_and_the_next_request_is_429(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(limited, tenant["owner"])
    clients.append(owner)
    assert statuses(owner, 4) == [200] * 4
    r = owner.get(CURRENT)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Limit"] == "4"
    assert r.headers["RateLimit-Remaining"] == "0"
    assert int(r.headers["RateLimit-Reset"]) >= 1
    assert 'comment="user"' in r.headers["RateLimit-Policy"]


def test_the_tenant_budget_is_shared_by_its_users_and_spares_other_tenants(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    tenant = make_tenant(db, roles=("owner", "admin"))
    other = make_tenant(db, roles=("owner",))
    first, second = client_of(limited, tenant["owner"]), client_of(limited, tenant["admin"])
    neighbour = client_of(limited, other["owner"])
    clients.extend([first, second, neighbour])
    assert statuses(first, 3) + statuses(second, 3) == [200] * 6
    r = second.get(CURRENT)
    assert r.status_code == 429 and r.headers["RateLimit-Limit"] == "6"
    assert 'comment="tenant"' in r.headers["RateLimit-Policy"]
    # Another tenant keeps its whole budget.
    assert statuses(neighbour, 4) == [200] * 4


def test_the_budget_follows_the_session_never_a_header(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    tenant = make_tenant(db, roles=("owner",))
    victim = make_tenant(db, roles=("owner",))
    attacker = client_of(limited, tenant["owner"])
    clients.append(attacker)
    spoof = {"x-tenant-id": str(victim.id), "x-user-id": str(victim["owner"].user_id)}
    assert statuses(attacker, 4, headers=spoof) == [200] * 4
    assert attacker.get(CURRENT, headers=spoof).status_code == 429
    # The victim's budget is untouched; unauthenticated requests spend nothing.
    with TestClient(limited) as anonymous:
        assert statuses(anonymous, 10) == [401] * 10
    victim_client = client_of(limited, victim["owner"])
    clients.append(victim_client)
    assert statuses(victim_client, 4) == [200] * 4


def test_a_plan_tier_override_gives_one_tenant_a_bigger_budget(
    settings: Settings, db: Database, clients: list[TestClient]
) -> None:
    big, small = make_tenant(db, roles=("owner",)), make_tenant(db, roles=("owner",))
    app = create_app(
        settings.model_copy(
            update={
                "tenant_rate_limit": "3/minute",
                "rate_limit_overrides": {big.slug: {"tenant": "8/minute"}},
            }
        ),
        db,
    )
    big_client, small_client = client_of(app, big["owner"]), client_of(app, small["owner"])
    clients.extend([big_client, small_client])
    assert statuses(small_client, 4) == [200] * 3 + [429]
    assert statuses(big_client, 9) == [200] * 8 + [429]


def test_refusals_are_security_events_of_the_tenant(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    tenant = make_tenant(db, roles=("owner",))
    member = add_client(db, tenant)
    c = client_of(limited, member)
    clients.append(c)
    labels = frozenset({("code", "rate_limited"), ("tenant", tenant.slug)})
    key = ("tenantry_security_events_total", labels)
    statuses(c, 4)
    assert statuses(c, 2) == [429, 429]
    assert scrape_with(c, "t").get(key) == 2.0


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape_with(client: TestClient, token: str) -> Samples:
    from prometheus_client.parser import text_string_to_metric_families

    r = client.get("/metrics", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_no_limits_configured_means_no_counting(app: Any, tenant_a: TenantFixture) -> None:
    assert app.state.quotas.enabled is False
    with TestClient(app) as c:
        login(c, tenant_a["owner"])
        assert statuses(c, 12) == [200] * 12


@contextmanager
def statements_on(db: Database) -> Iterator[list[str]]:
    """What the app role's engines sent the server meanwhile, from libpq's protocol
    trace of every connection they hand out (the loop one every request's unit uses, and
    the blocking one threads use): the real messages, so a statement run on the driver
    connection under SQLAlchemy (the access check) counts as much as one through it.

    Not traced: the ops recorder's thread, which writes buffered traffic counts and
    security events in the background every few seconds (any app's in this process,
    unpinned, on the blocking engine): not a request's work, and it made the refusal
    test fail when a flush fell inside its window on a loaded machine."""
    seen: list[str] = []
    background = frozenset({"tenantry-ops-recorder"})
    with (
        trace_engine(db.loop_engine, except_threads=background) as on_loop,
        trace_engine(db.app_engine, except_threads=background) as blocking,
    ):
        try:
            yield seen
        finally:
            for trip in (on_loop, blocking):
                seen += [line for line in trip.lines() if line.startswith("F\t")]


def test_past_the_budget_a_request_is_refused_before_any_database_work(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    """An abusive tenant must cost the others as little as possible: once its budget is
    spent, its requests are refused from the signed session cookie alone."""
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(limited, tenant["owner"])
    clients.append(owner)
    assert statuses(owner, 3) == [200] * 3
    with statements_on(db) as served:  # the control: the listener sees a request's SQL
        assert statuses(owner, 1) == [200]
    assert served, "the listener saw no statement of a served request"
    with statements_on(db) as seen:
        r = owner.get(CURRENT)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 'comment="user"' in r.headers["RateLimit-Policy"]
    assert seen == []


def test_requests_of_a_signed_out_session_spend_no_budget(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    """The early refusal only reads the budget; counting stays after authentication, so
    an old cookie replayed after sign-out cannot use up its tenant's budget."""
    tenant = make_tenant(db, roles=("owner", "admin"))
    owner = client_of(limited, tenant["owner"])
    clients.append(owner)
    old = dict(owner.cookies)
    assert owner.post("/api/auth/logout").status_code in (200, 204)
    replay = TestClient(limited, cookies=old)
    clients.append(replay)
    assert set(statuses(replay, 8)) <= {401, 403}  # refused: revoked session
    admin = client_of(limited, tenant["admin"])
    clients.append(admin)
    assert statuses(admin, 4) == [200] * 4  # the tenant's 6 are all still there


def test_once_seen_spent_the_gate_refuses_before_routing_and_bodies(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    """After the first refusal of a window, the tenant's further requests are answered by
    the quota gate: before body limits (an oversized body is a 429, not a 413), before
    routing (counted under the gate's own route label), and for the session's tenant."""
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(limited, tenant["owner"])
    clients.append(owner)
    assert statuses(owner, 4) == [200] * 4
    assert owner.get(CURRENT).status_code == 429  # the route dependency saw it spent
    gate = frozenset(
        {("route", GATE_ROUTE), ("method", "POST"), ("status", "429"), ("tenant", tenant.slug)}
    )
    before = scrape_with(owner, "t").get(("tenantry_http_requests_total", gate), 0.0)
    huge = b"x" * (limited.state.settings.json_max_bytes + 10)
    r = owner.post(
        "/api/admin/bookings", content=huge, headers={"content-type": "application/json"}
    )
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert r.json()["error"]["request_id"] == r.headers["x-request-id"]
    assert 'comment="user"' in r.headers["RateLimit-Policy"]
    assert int(r.headers["Retry-After"]) >= 1
    after = scrape_with(owner, "t").get(("tenantry_http_requests_total", gate), 0.0)
    assert after == before + 1


def test_the_gate_leaves_other_scopes_and_other_tenants_alone(
    limited: Any, db: Database, clients: list[TestClient]
) -> None:
    tenant = make_tenant(db, roles=("owner",))
    other = make_tenant(db, roles=("owner",))
    owner, neighbour = client_of(limited, tenant["owner"]), client_of(limited, other["owner"])
    clients.extend([owner, neighbour])
    assert statuses(owner, 5) == [200] * 4 + [429]
    assert owner.get("/api/auth/me").status_code == 200  # not a tenant route: no budget
    assert statuses(neighbour, 4) == [200] * 4


def test_the_gate_forgets_a_budget_when_its_window_frees_a_request(
    settings: Settings, db: Database, clients: list[TestClient]
) -> None:
    app = create_app(settings.model_copy(update={"user_rate_limit": "2/second"}), db)
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(app, tenant["owner"])
    clients.append(owner)
    seen = statuses(owner, 3)
    assert seen[-1] == 429 and app.state.quotas.knows_spent
    time.sleep(1.2)  # the window (1 s) frees its requests
    assert owner.get(CURRENT).status_code == 200


@pytest.mark.parametrize(
    ("path", "gated"),
    [
        ("/api/admin/bookings", True),
        ("/api/portal/bookings/1", True),
        ("/api/tenant/current", True),
        ("/api/tenant/switch", False),
        ("/api/auth/login", False),
        ("/api/public/tenant", False),
        ("/app/bookings", False),
        ("/api/administrator", False),
    ],
)
def test_only_tenant_routes_pass_the_gate(app: Any, path: str, gated: bool) -> None:
    assert (path in TenantPaths(iter_routes(app))) is gated


def held_app(settings: Settings, db: Database, **update: Any) -> Any:
    return create_app(settings.model_copy(update={"user_rate_limit": "2/minute", **update}), db)


def timed_get(client: TestClient) -> tuple[int, float]:
    start = time.monotonic()
    status = client.get(CURRENT).status_code
    return status, time.monotonic() - start


def test_a_client_back_before_retry_after_waits_for_its_refusal(
    settings: Settings, db: Database, clients: list[TestClient]
) -> None:
    """The first refusal of a window is answered at once; past it, the gate holds each
    refusal for ``rate_limit_hold_seconds`` before answering (asleep, no work), so an
    abuser that reuses its connections gets at most one refusal per connection per hold."""
    app = held_app(settings, db, rate_limit_hold_seconds=2.0)
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(app, tenant["owner"])
    clients.append(owner)
    assert statuses(owner, 2) == [200, 200]
    assert owner.get(CURRENT).status_code == 429
    assert app.state.quotas_held.total == 0  # the route dependency's refusal is not held
    held, held_took = timed_get(owner)
    assert held == 429
    assert app.state.quotas_held.total == 1
    assert held_took >= 1.9  # asleep for the hold (the loop may wake a clock tick early)
    r = owner.get(CURRENT)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_no_more_refusals_are_held_at_once_than_the_cap(
    settings: Settings, db: Database, clients: list[TestClient]
) -> None:
    """``rate_limit_hold_max`` bounds what held refusals can cost a process (a sleeping
    request each): past it, a refusal is answered at once."""
    import threading

    app = held_app(settings, db, rate_limit_hold_seconds=5.0, rate_limit_hold_max=1)
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(app, tenant["owner"])
    clients.append(owner)
    assert statuses(owner, 3) == [200, 200, 429]
    held: list[int] = []
    holder = threading.Thread(target=lambda: held.append(owner.get(CURRENT).status_code))
    holder.start()
    try:
        deadline = time.monotonic() + 4.0
        while app.state.quotas_held.count < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.state.quotas_held.count == 1  # the first refusal is being held
        assert owner.get(CURRENT).status_code == 429  # the cap is reached: answered at once
        assert holder.is_alive()  # ... while the held one still waits
    finally:
        holder.join()
    assert held == [429]
    assert app.state.quotas_held.count == 0


def test_a_hold_of_zero_answers_every_refusal_at_once(
    settings: Settings, db: Database, clients: list[TestClient]
) -> None:
    app = held_app(settings, db, rate_limit_hold_seconds=0.0)
    tenant = make_tenant(db, roles=("owner",))
    owner = client_of(app, tenant["owner"])
    clients.append(owner)
    assert statuses(owner, 3) == [200, 200, 429]
    assert statuses(owner, 5) == [429] * 5
    assert app.state.quotas_held.count == 0
    assert app.state.quotas_held.total == 0

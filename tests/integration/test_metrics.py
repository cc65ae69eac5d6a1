"""/metrics: who may read it, the request series, and one security counter per refusal,
each for the right tenant (the tenant the caller is signed in to).

The module builds its own app (its own bounded tenant labels, so the tenants made here
get labels of their own however many tenants earlier tests met).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import DBAPIError

from tenantry.app import create_app
from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.guard import CrossTenantWrite
from tenantry.services.models import Service
from tenantry.settings import Settings
from tests.factories import TenantFixture, make_tenant
from tests.helpers import login

TOKEN = "metrics-token-" + uuid.uuid4().hex
CURRENT = "/api/tenant/current"


@pytest.fixture(scope="module")
def metrics_app(settings: Settings, db: Database) -> Any:
    return create_app(settings.model_copy(update={"metrics_token": TOKEN}), db)


@pytest.fixture
def api(metrics_app: Any) -> Iterator[TestClient]:
    with TestClient(metrics_app) as c:
        yield c


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def security_count(client: TestClient, code: str, tenant: str) -> float:
    key = ("tenantry_security_events_total", frozenset({("code", code), ("tenant", tenant)}))
    return scrape(client).get(key, 0.0)


def test_metrics_needs_the_token_when_one_is_set(api: TestClient) -> None:
    assert api.get("/metrics").status_code == 401
    wrong = api.get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "metrics_token_required"
    assert api.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_without_a_token_metrics_answer_only_loopback(app: Any) -> None:
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        r = remote.get("/metrics")
        assert r.status_code == 403 and r.json()["error"]["code"] == "metrics_loopback_only"
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        r = local.get("/metrics")
        assert r.status_code == 200 and "tenantry_http_requests_total" in r.text


def test_requests_are_counted_by_route_template_and_tenant(
    api: TestClient, tenant_a: TenantFixture, db: Database
) -> None:
    login(api, tenant_a["owner"])
    assert api.get(CURRENT).status_code == 200
    svc = f"/api/admin/services/{uuid.uuid4()}"
    assert api.get(svc).status_code == 404
    samples = scrape(api)
    labels = {("route", CURRENT), ("method", "GET"), ("status", "200"), ("tenant", tenant_a.slug)}
    assert samples[("tenantry_http_requests_total", frozenset(labels))] >= 1
    template = {
        ("route", "/api/admin/services/{service_id}"),
        ("method", "GET"),
        ("status", "404"),
        ("tenant", tenant_a.slug),
    }
    assert samples[("tenantry_http_requests_total", frozenset(template))] >= 1
    # The raw path (an id) never becomes a label.
    assert not any(svc in str(key) for key in samples)
    latency = {("route", CURRENT), ("method", "GET"), ("status", "2xx"), ("tenant", tenant_a.slug)}
    assert samples[("tenantry_http_request_duration_seconds_count", frozenset(latency))] >= 1
    assert any(name == "tenantry_db_pool_connections" for name, _ in samples)
    assert any(name == "tenantry_job_queue_jobs" for name, _ in samples)


def test_a_tampered_tenant_sig_counts_for_the_callers_tenant(
    api: TestClient, tenant_a: TenantFixture
) -> None:
    login(api, tenant_a["owner"])
    before = security_count(api, "tenant_sig_invalid", tenant_a.slug)
    sig = api.cookies.get("tenant_sig")
    api.cookies.set("tenant_sig", sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"))
    r = api.get(CURRENT)
    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_sig_invalid"
    assert security_count(api, "tenant_sig_invalid", tenant_a.slug) == before + 1


def test_a_cookie_sent_to_another_tenants_host_counts_as_tenant_mismatch(
    api: TestClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    login(api, tenant_a["owner"])
    before_a = security_count(api, "tenant_mismatch", tenant_a.slug)
    before_b = security_count(api, "tenant_mismatch", tenant_b.slug)
    r = api.get(CURRENT, headers={"host": f"{tenant_b.slug}.localhost"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_mismatch"
    assert security_count(api, "tenant_mismatch", tenant_a.slug) == before_a + 1
    assert security_count(api, "tenant_mismatch", tenant_b.slug) == before_b


def _write_into(db: Database, actor: TenantFixture, victim: TenantFixture) -> None:
    with tenant_context(TenantContext(tenant_id=actor.id)), db.session() as s:
        s.add(
            Service(
                tenant_id=victim.id,
                slug="x-" + uuid.uuid4().hex[:8],
                name="planted",
                price_cents=1,
                duration_minutes=5,
            )
        )


def test_guard_refusals_count_per_mode_for_the_acting_tenant(
    api: TestClient, db: Database, database_urls: Any
) -> None:
    actor, victim = make_tenant(db, roles=()), make_tenant(db, roles=())
    # A fresh labelled tenant has no series yet: read its count as 0.
    before = security_count(api, "guard_refused", actor.slug)
    with pytest.raises(CrossTenantWrite):
        _write_into(db, actor, victim)
    assert security_count(api, "guard_refused", actor.slug) == before + 1

    logging_db = Database(database_urls, guard_mode="log")
    try:
        before_log = security_count(api, "guard_logged", actor.slug)
        with pytest.raises(DBAPIError):  # RLS (wall 5) still refuses the row
            _write_into(logging_db, actor, victim)
        assert security_count(api, "guard_logged", actor.slug) == before_log + 1
    finally:
        logging_db.dispose()


def test_webhook_signature_failures_and_refused_jobs_are_counted(api: TestClient) -> None:
    from tenantry.jobs.runner import JobEnv, JobRefused, _Registered, run_in_tenant

    before = security_count(api, "webhook_signature_invalid", "none")
    r = api.post(
        "/api/payments/webhook",
        content=b'{"id": "evt_1"}',
        headers={"Tenantry-Signature": "t=1,v1=" + "0" * 64},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "signature_invalid"
    assert security_count(api, "webhook_signature_invalid", "none") == before + 1

    jobs_before = security_count(api, "job_refused", "none")
    task = _Registered("test.noop", lambda env, **kw: None, 0)
    with pytest.raises(JobRefused):
        run_in_tenant(task, JobEnv(db=None, settings=None), 1, {})  # type: ignore[arg-type]
    assert security_count(api, "job_refused", "none") == jobs_before + 1
    outcome = ("tenantry_jobs_total", frozenset({("task", "test.noop"), ("outcome", "refused")}))
    assert scrape(api)[outcome] >= 1

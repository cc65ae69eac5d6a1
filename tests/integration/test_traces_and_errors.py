"""Traces (OpenTelemetry, in-memory exporter) and error reports (Sentry, capturing
transport) carry the tenant, and error reports carry no cookie or secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from fastapi import Request
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from tenantry.app import create_app
from tenantry.auth.dependencies import CurrentTenant
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.observability.errors import setup_error_reports
from tenantry.observability.tracing import build_provider, instrument, tracing_requested
from tenantry.routing import tenant_router
from tenantry.settings import Settings
from tests.factories import TenantFixture
from tests.helpers import TEST_KEYS, login

REQUEST_ID = "trace-test-0123456789"


def test_traces_are_off_unless_otel_variables_ask() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing_requested({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing_requested({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"})


@pytest.fixture
def traced(
    settings: Settings, database_urls: DatabaseUrls
) -> Iterator[tuple[Any, InMemorySpanExporter]]:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    db = Database(database_urls)  # its own engines: instrumenting them touches no other test
    app = create_app(settings, db)
    exporter = InMemorySpanExporter()
    instrument(app, db, build_provider(exporter, batch=False))
    try:
        yield app, exporter
    finally:
        SQLAlchemyInstrumentor().uninstrument()
        FastAPIInstrumentor.uninstrument_app(app)
        db.dispose()


def test_a_requests_db_spans_carry_its_tenant_and_request_id(
    traced: tuple[Any, InMemorySpanExporter], tenant_a: TenantFixture
) -> None:
    app, exporter = traced
    with TestClient(app) as client:
        login(client, tenant_a["owner"])
        exporter.clear()
        r = client.get("/api/tenant/current", headers={"x-request-id": REQUEST_ID})
        assert r.status_code == 200
    # The request's trace only: the ops recorder flushes from its own thread every 2 s
    # through the same engine (its spans, e.g. a pool ``connect``, have no tenant and
    # start traces of their own) — on a slow machine one can fall inside the request.
    finished = exporter.get_finished_spans()
    request_traces = {s.context.trace_id for s in finished if s.kind == SpanKind.SERVER}
    spans = [s for s in finished if s.context.trace_id in request_traces]
    db_spans = [s for s in spans if s.kind == SpanKind.CLIENT and s.attributes.get("db.system")]
    assert len(db_spans) >= 2, [s.name for s in spans]
    for span in spans:
        assert span.attributes.get("tenant.id") == str(tenant_a.id), (span.name, span.attributes)
        assert span.attributes.get("request.id") == REQUEST_ID, (span.name, span.attributes)
    assert any(s.kind == SpanKind.SERVER for s in spans)


class CapturingTransport(Transport):
    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        return [
            item.payload.json
            for envelope in self.envelopes
            for item in envelope.items
            if item.type == "event" and item.payload.json
        ]


def failing_router() -> Any:
    router = tenant_router(prefix="/api/e2e", tags=["e2e (test only)"])

    @router.get("/boom")
    def boom(ctx: CurrentTenant, request: Request) -> None:
        secret_keys = request.app.state.settings.secret_keys  # a local the SDK would send
        cookie = request.headers.get("cookie", "")
        raise RuntimeError(f"boom for {ctx.tenant_id} with {cookie} and {secret_keys[:4]}")

    return router


@pytest.fixture
def reported(settings: Settings, db: Database) -> Iterator[tuple[Any, CapturingTransport]]:
    transport = CapturingTransport()
    setup_error_reports("http://public@127.0.0.1:9/1", transport=transport)
    app = create_app(settings, db)
    app.include_router(failing_router())
    try:
        yield app, transport
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: reporting off again for the rest of the run


def test_error_reports_carry_tenant_tags_and_no_cookie_or_secret(
    reported: tuple[Any, CapturingTransport], tenant_a: TenantFixture
) -> None:
    app, transport = reported
    with TestClient(app, raise_server_exceptions=False) as client:
        login(client, tenant_a["owner"])
        sig = client.cookies.get("tenant_sig")
        session = client.cookies.get("tenantry_session")
        r = client.get("/api/e2e/boom", headers={"x-request-id": REQUEST_ID})
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    sentry_sdk.flush()
    events = transport.events()
    assert events, "no error report was sent"
    event = events[-1]
    tags = event["tags"]
    assert tags["tenant.id"] == str(tenant_a.id)
    assert tags["tenant.slug"] == tenant_a.slug
    assert tags["user.id"] == str(tenant_a["owner"].user_id)
    assert tags["request.id"] == REQUEST_ID
    assert tags["route.scope"] == "tenant"
    raw = json.dumps(events)
    assert sig and sig not in raw
    assert session and session not in raw
    assert TEST_KEYS.split(",")[0] not in raw
    assert "[Filtered]" in raw


def test_fastapi_native_telemetry_stays_off_even_with_a_global_tracer_provider(
    settings: Settings, database_urls: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tenantry's spans come from its own instrumentation (above). FastAPI's native
    telemetry is switched off, so an embedding's global provider adds no spans of its
    own — and FastAPI no longer asks the providers on every request."""
    import opentelemetry.trace

    exporter = InMemorySpanExporter()
    provider = build_provider(exporter, batch=False)
    monkeypatch.setattr(opentelemetry.trace, "get_tracer_provider", lambda: provider)
    db = Database(database_urls)
    try:
        app = create_app(settings, db)
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        db.dispose()
    assert [s.name for s in exporter.get_finished_spans()] == []

"""OpenTelemetry traces, off unless the standard ``OTEL_*`` variables ask for them.

On when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or ``console``) or an
OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` /
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keeps them off. Everything else — service name
(``OTEL_SERVICE_NAME``, default ``tenantry``), resource attributes, sampler, OTLP
headers — is read by the SDK from the same standard variables.

Instrumented: FastAPI (one server span per request) and SQLAlchemy (one span per
statement, on the app's and the migrator's engines, blocking and loop). procrastinate
has no OpenTelemetry instrumentation; jobs are traced by their DB spans, which carry
the job's tenant.

Every span carries ``tenant.id`` and ``request.id``: ``TenantSpanProcessor`` stamps
them from the tenant context when a span starts (DB spans run inside it), and the
observability middleware stamps the request's server span once the route dependency
has authenticated the tenant.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from structlog.contextvars import get_contextvars

from tenantry.db.engine import Database
from tenantry.isolation.context import current_context


def tracing_requested(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


class TenantSpanProcessor(SpanProcessor):
    """Stamps ``tenant.id`` and ``request.id`` on each span as it starts."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        ctx = current_context()
        if ctx is not None and ctx.tenant_id is not None:
            span.set_attribute("tenant.id", str(ctx.tenant_id))
        request_id = (ctx.request_id if ctx else None) or get_contextvars().get("request_id")
        if request_id:
            span.set_attribute("request.id", str(request_id))


def _exporter_from_env() -> SpanExporter:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: Tenantry ships otlp and console")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*


def build_provider(exporter: SpanExporter | None = None, *, batch: bool = True) -> TracerProvider:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "tenantry")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(TenantSpanProcessor())
    exporter = exporter or _exporter_from_env()
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    return provider


def instrument(app: FastAPI, db: Database, provider: TracerProvider) -> None:
    """Instrument this app and this database's engines with ``provider``."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        # The ASGI send/receive sub-spans start before the tenant is known and add
        # nothing an operator needs.
        exclude_spans=["receive", "send"],
    )
    SQLAlchemyInstrumentor().instrument(
        engines=[
            db.app_engine,
            db.loop_engine.sync_engine,  # every request's unit of work
            db.migrator_engine,
            db.loop_migrator_engine.sync_engine,
        ],
        tracer_provider=provider,
        enable_commenter=False,
        # The instrumentation declares "sqlalchemy < 2.1" but only uses engine events,
        # which 2.1 keeps; tests/integration/test_traces_and_errors.py proves the spans.
        skip_dep_check=True,
    )


def setup_tracing(app: FastAPI, db: Database) -> TracerProvider | None:
    """Called by ``create_app``: nothing unless the environment asks for traces."""
    if not tracing_requested():
        return None
    provider = build_provider()
    trace.set_tracer_provider(provider)
    instrument(app, db, provider)
    return provider

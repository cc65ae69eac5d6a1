"""Wiring: one ``Observability`` per app, installed by ``create_app``.

It owns the tenant names and labels, the operator view's recorder, and the security
event sink that counts every security log line (``observability.security``). The
sink is process-wide and registered by name, so the latest app built in a process is
the one that records (tests build several apps over one database).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sentry_sdk
from fastapi import FastAPI
from opentelemetry import trace
from starlette.types import Scope

from tenantry.db.engine import Database
from tenantry.isolation.context import current_context
from tenantry.observability import metrics
from tenantry.observability.errors import setup_error_reports
from tenantry.observability.labels import TenantLabels, TenantNames, database_slug_lookup
from tenantry.observability.logging import ensure_security_processor
from tenantry.observability.middleware import ObservabilityMiddleware, request_tenant, route_scope
from tenantry.observability.recorder import Recorder
from tenantry.observability.security import SecurityEvent, add_sink
from tenantry.observability.tracing import setup_tracing
from tenantry.settings import Settings

SINK_NAME = "tenantry.observability"


class Observability:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.names = TenantNames(database_slug_lookup(db.session))
        pinned = frozenset(s.strip() for s in settings.metrics_tenants.split(",") if s.strip())
        self.labels = TenantLabels(
            self.names, capacity=settings.metrics_tenant_labels, pinned=pinned
        )
        self.recorder = Recorder(
            db.app_engine,
            retention=timedelta(days=settings.security_events_retention_days),
            max_rows=settings.security_events_max_rows,
        )

    def on_security_event(self, event: SecurityEvent) -> None:
        label = self.labels.label(event.tenant_id)
        metrics.SECURITY_EVENTS.labels(event.code, label).inc()
        self.recorder.add_event(event, label)

    # ---- tags for traces and error reports -----------------------------------------

    def tag_span(self, state: dict[str, Any], tenant: uuid.UUID | None) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        if tenant is not None:
            span.set_attribute("tenant.id", str(tenant))
        request_id = state.get("request_id")
        if request_id:
            span.set_attribute("request.id", str(request_id))

    def tag_error(self, scope: Scope, state: dict[str, Any]) -> None:
        """Tags on the request's Sentry scope just before an error report is made."""
        if not sentry_sdk.is_initialized():
            return
        tenant = request_tenant(state)
        ctx = current_context()
        if tenant is None and ctx is not None:
            tenant = ctx.tenant_id
        user = state.get("user_id") or (ctx.user_id if ctx else None)
        tags = {
            "tenant.id": str(tenant) if tenant else None,
            # An error path: one cached look-up per tenant at most.
            "tenant.slug": self.names.slug(tenant) if tenant else None,
            "user.id": str(user) if user else None,
            "request.id": state.get("request_id"),
            "route.scope": route_scope(scope),
        }
        isolation = sentry_sdk.get_isolation_scope()
        for key, value in tags.items():
            if value:
                isolation.set_tag(key, value)


def install(app: FastAPI, settings: Settings, db: Database) -> Observability:
    """Called by ``create_app``: metrics, security sink, middleware, pool gauges, and
    error reports and traces when the environment asks for them."""
    obs = Observability(settings, db)
    app.state.observability = obs
    ensure_security_processor()
    add_sink(SINK_NAME, obs.on_security_event)
    metrics.instrument_pool(db.app_engine, "app")
    metrics.instrument_pool(db.loop_engine.sync_engine, "app_loop")  # requests' units
    metrics.instrument_pool(db.migrator_engine, "migrator")
    metrics.instrument_pool(db.loop_migrator_engine.sync_engine, "migrator_loop")
    metrics.mark_this_process_dead_at_exit()
    app.add_middleware(ObservabilityMiddleware, observability=obs)
    if settings.sentry_dsn and not sentry_sdk.is_initialized():
        setup_error_reports(settings.sentry_dsn)
    setup_tracing(app, db)
    return obs

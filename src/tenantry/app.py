"""The ASGI application: edge middleware, error shape, routers, scope check."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool

from tenantry import __version__, areas
from tenantry.auth.csrf import CsrfMiddleware
from tenantry.auth.ratelimit import AccountLimiter, LoginLimiter
from tenantry.db.engine import Database
from tenantry.http_errors import install_error_handlers
from tenantry.idempotency.middleware import IdempotencyMiddleware
from tenantry.isolation.middleware import EdgeMiddleware
from tenantry.isolation.scopes import assert_routes_scoped, iter_routes, scoped_router
from tenantry.kit.body_limit import (
    UPLOAD_ENVELOPE_BYTES,
    BodyLimitMiddleware,
    BodyLimits,
    publish_limits,
)
from tenantry.kit.route_index import index_routes
from tenantry.observability.runtime import install as install_observability
from tenantry.quotas.gate import Holds, QuotaGate, TenantPaths
from tenantry.quotas.limiter import QuotaLimiter
from tenantry.settings import Settings
from tenantry.tenants.hosts import HostResolver
from tenantry.web.routes import routers as web_routers

health = scoped_router("public", tags=["health"])

NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers. (Readiness of the database: ``tenantry migrate``.)"""
    return {"status": "ok", "version": __version__}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Nothing to start; at shutdown, the operator view's buffered events and traffic
    counts are written (on the blocking engine, so in a thread)."""
    yield
    await run_in_threadpool(app.state.observability.recorder.stop)


def create_app(settings: Settings, db: Database) -> FastAPI:
    settings.check_production()
    app = FastAPI(
        title="Tenantry",
        version=__version__,
        description=(
            "Multi-tenant platform for service businesses. Every operation declares its "
            "scope (`x-tenantry-scope`: tenant, public or system) and, where it needs one, "
            "the roles allowed (`x-tenantry-roles`)."
        ),
        # No redirect is ever built from the request's Host: a path with a trailing
        # slash it does not know is a plain 404, not a 307 to http://<Host>/...
        redirect_slashes=False,
        # Our own /docs and /redoc (tenantry.web.docs) serve the assets themselves.
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry stays off: Tenantry's traces come from
        # tenantry.observability.tracing (OpenTelemetry's FastAPI instrumentation, in whose
        # presence FastAPI's native telemetry stands aside anyway), its metrics from
        # Prometheus. Left on, FastAPI asks the global tracer, meter and logger providers
        # on every request whether one is configured: ~8 us per request (session 11).
        telemetry=NATIVE_TELEMETRY_OFF,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.login_limiter = LoginLimiter(
        settings.login_failures_per_account, settings.login_attempts_per_address
    )
    app.state.account_limiter = AccountLimiter(
        settings.account_actions_per_address, settings.account_mails_per_email
    )
    app.state.host_resolver = HostResolver(db, settings.base_domain)
    install_error_handlers(app)
    for router in (health, *areas.routers(), *web_routers):
        app.include_router(router)
    assert_routes_scoped(app)
    index_routes(app)  # same routes found, without trying every pattern (kit.route_index)
    app.add_middleware(IdempotencyMiddleware)
    # Added after (so outside) the idempotency middleware: bodies are bounded before the
    # idempotency middleware or any route sees them.
    limits = body_limits(settings)
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    publish_limits(app, limits)
    app.add_middleware(CsrfMiddleware, settings=settings)
    # Outside CSRF, bodies and routing, inside observability: a budget this process saw
    # spent is refused here at the least cost (``app.state.quotas`` is read per request).
    app.state.quotas_held = Holds()
    app.add_middleware(
        QuotaGate,
        settings=settings,
        paths=TenantPaths(iter_routes(app)),
        holds=app.state.quotas_held,
    )
    # Metrics, traffic and error tags: just inside the edge, which sets the request id
    # and host tenant it reads.
    obs = install_observability(app, settings, db)
    app.state.quotas = QuotaLimiter(settings, obs.names)
    app.add_middleware(
        EdgeMiddleware,
        resolve_host=app.state.host_resolver,
        peek_host=app.state.host_resolver.peek,
        base_domain=settings.base_domain,
        extra_hosts=settings.extra_hosts,
    )
    return app


def body_limits(settings: Settings) -> BodyLimits:
    return BodyLimits(
        json=settings.json_max_bytes,
        upload=settings.upload_max_bytes + UPLOAD_ENVELOPE_BYTES,
        webhook=settings.webhook_max_bytes,
    )

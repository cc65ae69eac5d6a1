"""The ASGI application: edge middleware, error shape, routers, scope check."""

from __future__ import annotations

from fastapi import FastAPI

from tenantry import __version__
from tenantry.auth.ratelimit import LoginLimiter
from tenantry.auth.routes import router as auth_router
from tenantry.db.engine import Database
from tenantry.isolation.middleware import EdgeMiddleware
from tenantry.isolation.scopes import assert_routes_scoped, scoped_router
from tenantry.settings import Settings
from tenantry.tenants.hosts import HostResolver
from tenantry.tenants.routes import router as tenant_router
from tenantry.web.errors import install_error_handlers

health = scoped_router("public", tags=["health"])


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers. (Readiness of the database: ``tenantry migrate``.)"""
    return {"status": "ok", "version": __version__}


def create_app(settings: Settings, db: Database) -> FastAPI:
    app = FastAPI(
        title="Tenantry",
        version=__version__,
        description=(
            "Multi-tenant platform for service businesses. Every operation declares its "
            "scope (`x-tenantry-scope`: tenant, public or system) and, where it needs one, "
            "the roles allowed (`x-tenantry-roles`)."
        ),
    )
    app.state.settings = settings
    app.state.db = db
    app.state.login_limiter = LoginLimiter(
        settings.login_attempts_per_account, settings.login_attempts_per_address
    )
    app.state.host_resolver = HostResolver(db, settings.base_domain)
    install_error_handlers(app)
    for router in (health, auth_router, tenant_router, *extra_routers()):
        app.include_router(router)
    assert_routes_scoped(app)
    app.add_middleware(
        EdgeMiddleware, resolve_host=app.state.host_resolver, base_domain=settings.base_domain
    )
    return app


def extra_routers() -> list[object]:
    """Business-area routers (each area registers here)."""
    return []

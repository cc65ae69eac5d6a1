"""System-scope endpoints: ``/metrics`` and the platform operator's security view.

* ``GET /metrics`` — Prometheus exposition. With ``TENANTRY_METRICS_TOKEN`` set it needs
  ``Authorization: Bearer <token>``; without, it answers only clients on the loopback
  address (behind a proxy on the same host, uvicorn's proxy headers give the real
  client, which is then refused).
* ``GET /api/ops/security`` — the security view's data (platform operators only).
* ``GET /ops/security`` — the page that plots it (platform operators only; anyone else
  gets 404, a signed-out visitor the sign-in page).
"""

from __future__ import annotations

import hmac
import ipaddress
from pathlib import Path
from typing import Annotated, Final

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tenantry.auth import cookies
from tenantry.auth.dependencies import DatabaseDep, SettingsDep, _refuse
from tenantry.auth.operators import OperatorRequired, PlatformOperator, is_platform_operator
from tenantry.db.engine import Database
from tenantry.errors import Forbidden, NotAuthenticated, NotFound, TenantryError
from tenantry.isolation.context import dangerously_enter_system_scope
from tenantry.observability import metrics
from tenantry.observability.runtime import Observability
from tenantry.observability.summary import SecuritySummary, security_summary
from tenantry.routing import system_router
from tenantry.settings import Settings
from tenantry.web.files import listed_file

WEB = Path(__file__).resolve().parent.parent / "web"
STATIC_FILES: Final = {
    "ops-security.js": "text/javascript; charset=utf-8",
    "ops-security.css": "text/css; charset=utf-8",
}
_templates = Environment(
    loader=FileSystemLoader(WEB / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)


class MetricsTokenRequired(NotAuthenticated):
    code = "metrics_token_required"
    message = "Send the metrics token: Authorization: Bearer <TENANTRY_METRICS_TOKEN>."


class MetricsLoopbackOnly(Forbidden):
    code = "metrics_loopback_only"
    message = "Without TENANTRY_METRICS_TOKEN, /metrics answers only the loopback address."


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_access(request: Request, settings: SettingsDep) -> None:
    token = settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise MetricsTokenRequired(headers={"WWW-Authenticate": "Bearer"})
        return
    if not _is_loopback(request.client.host if request.client else ""):
        raise MetricsLoopbackOnly()


metrics_router = system_router(tags=["observability"])


@metrics_router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics of every server process (requests, latency, security events
    by code and tenant, database pools, job queue and job outcomes)."""
    obs: Observability = request.app.state.observability
    # Every process's metric files and a query of the job queue: blocking, in a thread.
    body, content_type = await run_in_threadpool(
        metrics.exposition, [metrics.JobQueueCollector(obs.db.worker_engine)]
    )
    return Response(body, media_type=content_type)


ops_router = system_router(prefix="/api/ops", tags=["operator"])


@ops_router.get("/security")
async def security_view(
    request: Request,
    operator: PlatformOperator,
    db: DatabaseDep,
    hours: Annotated[int, Query(ge=1, le=24 * 7, description="Window, in hours.")] = 24,
) -> SecuritySummary:
    """Requests, server errors and security events per tenant over time; the top
    offending tenants, users and addresses; the latest refusals with their request
    ids. Platform operators only (`403 operator_required` otherwise)."""
    obs: Observability = request.app.state.observability
    # Straight on the blocking engines (the recorder's, the migrator's): in a thread.
    return await run_in_threadpool(_security_summary, obs, db, hours)


def _security_summary(obs: Observability, db: Database, hours: int) -> SecuritySummary:
    obs.recorder.flush()  # this process's latest events, not only the last batch
    # The offenders' addresses come from users of every tenant, which the app role may
    # not read (RLS on users): a platform operator's read, so the audited system scope.
    with dangerously_enter_system_scope(reason="operator security view (users of all tenants)"):
        return security_summary(db.migrator_engine, hours=hours)


page_router = system_router(tags=["operator"], include_in_schema=False)


def _signed_in_operator(settings: Settings, db: Database, request: Request) -> bool | None:
    """None: not signed in; else whether the session's user is a platform operator."""
    session = cookies.read_session(settings, request)
    if session is None:
        return None
    return is_platform_operator(db, session.user_id)


@page_router.get("/ops/security", response_class=HTMLResponse, response_model=None)
async def security_page(request: Request, settings: SettingsDep, db: DatabaseDep) -> Response:
    """The operator's security view (plots drawn by ops-security.js from the API)."""
    from tenantry.web.routes import PAGE_HEADERS

    allowed = await run_in_threadpool(_signed_in_operator, settings, db, request)
    if allowed is None:
        return RedirectResponse("/login", status_code=303)
    if not allowed:
        error: TenantryError = _refuse(request, OperatorRequired())
        raise NotFound() from error
    html = _templates.get_template("ops_security.html").render(title="Security")
    return HTMLResponse(html, headers=PAGE_HEADERS)


@page_router.get("/ops/static/{name}", response_class=FileResponse)
def ops_static(name: str) -> FileResponse:
    """The security view's own script and style (a fixed allow-list)."""
    return listed_file(WEB / "static", STATIC_FILES, name)


routers = [metrics_router, ops_router, page_router]

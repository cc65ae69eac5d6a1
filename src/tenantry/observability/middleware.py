"""Per-request observability: metrics, traffic for the operator view, span and error tags.

A pure ASGI middleware placed just inside the edge middleware, so the request id, the
host's tenant and (after the route dependency ran) the caller's tenant are in
``scope["state"]``. Its work per request is a handful of dict look-ups and metric
updates; the only slow path — a tenant's slug not yet known — happens at most once per
tenant (see ``labels``) and runs in a worker thread.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.observability import metrics

if TYPE_CHECKING:
    from tenantry.observability.runtime import Observability

UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched route's path template; never the raw path (unbounded labels). A
    request answered before routing may name its stand-in (``state["route_template"]``)."""
    named = scope.get("state", {}).get("route_template")
    if named:
        return str(named)
    ctx = scope.get("effective_route_context")
    path = getattr(ctx, "path", None) if ctx is not None else None
    if not path:
        path = getattr(scope.get("route"), "path", None)
    return str(path) if path else UNMATCHED


def route_scope(scope: Scope) -> str | None:
    ctx = scope.get("effective_route_context")
    route = getattr(ctx, "original_route", None) if ctx is not None else scope.get("route")
    found = getattr(route, "tenantry_scope", None)
    return str(found) if found else None


def request_tenant(state: dict[str, Any]) -> uuid.UUID | None:
    tenant = state.get("tenant_id")
    if tenant is not None:
        return tenant if isinstance(tenant, uuid.UUID) else None
    host = state.get("host_tenant")
    return getattr(host, "id", None)


def _series_of(route: str, method: str, status: int, label: str) -> tuple[Any, Any]:
    return (
        metrics.HTTP_REQUESTS.labels(route, method, str(status), label),
        metrics.HTTP_LATENCY.labels(route, method, metrics.status_class(status), label),
    )


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, observability: Observability) -> None:
        self.app = app
        self.obs = observability
        # The request's two series by (route, method, status, tenant label), looked up
        # once each: ``labels()`` takes a lock and builds a key on every call. As bounded
        # as the labels themselves (route templates, a capped set of tenant labels).
        self._series: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        client = scope.get("client")
        if client:
            structlog.contextvars.bind_contextvars(client=client[0])
        host = state.get("host_tenant")
        if host is not None:
            self.obs.names.learn(host.id, host.slug)
        status = {"code": 500}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                # Now, not after the response: the server span ends with its last byte.
                self.obs.tag_span(state, request_tenant(state))
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            self.obs.tag_error(scope, state)
            raise
        finally:
            await self._record(scope, state, status["code"], time.perf_counter() - started)

    async def _record(
        self, scope: Scope, state: dict[str, Any], status: int, elapsed: float
    ) -> None:
        tenant = request_tenant(state)
        label = self.obs.labels.cached(tenant)
        if label is None:
            label = await anyio.to_thread.run_sync(self.obs.labels.label, tenant)
        route = route_template(scope)
        key = (route, scope["method"], status, label)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _series_of(*key)
        series[0].inc()
        series[1].observe(elapsed)
        if route != "/metrics":
            self.obs.recorder.count_request(label, error=status >= 500)

"""The quota gate: an abusive tenant's surplus refused at the door.

Once this process has seen a tenant's or user's budget spent (``QuotaLimiter``
remembers it until the window frees a request), every further request of that
tenant's signed session to a tenant route is answered ``429 rate_limited`` here —
before routing, CSRF, body limits, idempotency, the database and the rate-limit
storage. What is left per refused request is the signature check of the session
cookie and one dict look-up, so the other tenants barely notice the abuser
(``bench/noisy_neighbour``).

It decides nothing new: the first refusal of a window always comes from the route
dependencies (``refuse_spent_quota`` / ``enforce_quota``), which ask the storage.
A pure ASGI middleware placed inside the edge (request id) and the observability
middleware (the refusal is counted for the session's tenant like any other).

A request that reaches the gate came back before the ``Retry-After`` it was given, so
its refusal is held (asleep, ``rate_limit_hold_seconds``) before it is answered: a
client that reuses its connections — HTTP/1.1 answers one request at a time on each —
gets at most one refusal per connection per hold, instead of as many as the server can
parse. Each refusal costs the server about what ``/healthz`` does (``bench/README.md``,
noisy_neighbour), and that, not the gate's own work, is what an abuser's surplus still
took from the others. Holds are bounded per process (``rate_limit_hold_max``); past the
bound a refusal is answered at once, as with a hold of 0.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.auth.cookies import SESSION_COOKIE, cookie_name, decode_session
from tenantry.http_errors import send_error
from tenantry.quotas.limiter import QuotaExceeded, QuotaLimiter
from tenantry.settings import Settings

_security = structlog.get_logger("tenantry.security")

GATE_ROUTE = "(quota gate)"  # the route label of gate refusals in metrics


class TenantPaths:
    """Which request paths belong to tenant routes, without routing: a first-two-segment
    prefix (``/api/admin/``) that no other scope uses, else the route's own pattern."""

    def __init__(self, routes: Iterable[tuple[BaseRoute, str]]) -> None:
        """``routes``: each route with its full path (``isolation.scopes.iter_routes``)."""
        by_prefix: dict[str, set[str]] = {}
        tenant_routes: list[tuple[str, re.Pattern[str]]] = []
        for route, path in routes:
            prefix = "/".join(path.split("/")[:3]) + "/"
            scope = getattr(route, "tenantry_scope", None)
            by_prefix.setdefault(prefix, set()).add(str(scope))
            if scope == "tenant":
                tenant_routes.append((prefix, compile_path(path)[0]))
        self.prefixes = tuple(sorted({p for p, _ in tenant_routes if by_prefix[p] == {"tenant"}}))
        self.patterns = [rx for p, rx in tenant_routes if p not in self.prefixes]

    def __contains__(self, path: str) -> bool:
        return path.startswith(self.prefixes) or any(rx.match(path) for rx in self.patterns)


@dataclass
class Holds:
    """Refusals held by this process's gate: now (``count``) and since it started."""

    count: int = 0
    total: int = 0


class QuotaGate:
    def __init__(
        self, app: ASGIApp, *, settings: Settings, paths: TenantPaths, holds: Holds
    ) -> None:
        self.app = app
        self.settings = settings
        self.paths = paths
        self.holds = holds
        self.cookie = cookie_name(settings, SESSION_COOKIE).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter: QuotaLimiter | None = (
            scope["app"].state.quotas if scope["type"] == "http" else None
        )
        refusal = self._refusal(scope, limiter) if limiter is not None else None
        if limiter is None or refusal is None:
            await self.app(scope, receive, send)
            return
        headers, tenant_id, user_id = refusal
        state: dict[str, Any] = scope.setdefault("state", {})
        state["tenant_id"] = tenant_id
        state["route_template"] = GATE_ROUTE
        _security.warning(
            "security_event",
            code=QuotaExceeded.code,
            path=scope["path"],
            session_tenant=str(tenant_id),
            user=str(user_id),
            gate=True,
        )
        if await self._hold():
            headers = limiter.known_spent(tenant_id, user_id) or headers  # a fresh Retry-After
        await send_error(
            scope,
            send,
            429,
            QuotaExceeded.code,
            QuotaExceeded.message,
            [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        )

    async def _hold(self) -> bool:
        """Sleep for the hold unless it is 0 or the process already holds its bound."""
        hold, holds = self.settings.rate_limit_hold_seconds, self.holds
        if hold <= 0 or holds.count >= self.settings.rate_limit_hold_max:
            return False
        holds.count += 1
        holds.total += 1
        try:
            await asyncio.sleep(hold)
        finally:
            holds.count -= 1
        return True

    def _refusal(
        self, scope: Scope, limiter: QuotaLimiter
    ) -> tuple[dict[str, str], Any, Any] | None:
        if not limiter.enabled or not limiter.knows_spent or scope["path"] not in self.paths:
            return None
        raw = next((v for k, v in scope["headers"] if k == b"cookie"), None)
        if raw is None or self.cookie not in raw:
            return None
        token = cookie_parser(raw.decode("latin-1")).get(self.cookie.decode())
        session = decode_session(self.settings, token) if token else None
        if session is None or session.tenant_id is None:
            return None
        headers = limiter.known_spent(session.tenant_id, session.user_id)
        return None if headers is None else (headers, session.tenant_id, session.user_id)

"""The edge (wall 1): a pure ASGI middleware in front of every request.

* Gives every request an ``x-request-id``: a well-formed inbound one is kept, any
  other is replaced.
* Strips inbound ``x-tenant-id``, ``x-tenant-slug`` and ``x-user-id`` so no client
  chooses a tenant or identity by header.
* Resolves the host's tenant — ``<slug>.<base-domain>`` or a tenant's primary
  domain — into ``scope["state"]["host_tenant"]`` (``None`` on the bare base domain,
  ``localhost`` or an IP: "use the session's tenant"). An unknown tenant host is 404.
* Writes one structured log line per request with request, tenant and user ids.

It is pure ASGI (not BaseHTTPMiddleware) so context variables set downstream stay
in the request's task, and it does no catalogue work: the host lookup is one
indexed query, cached briefly per host.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.isolation.context import set_context

STRIPPED_HEADERS = frozenset({b"x-tenant-id", b"x-tenant-slug", b"x-user-id"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_log = structlog.get_logger("tenantry.access")


@dataclass(frozen=True)
class HostTenant:
    id: uuid.UUID
    slug: str
    status: str


HostResolver = Callable[[str], HostTenant | None]


class UnknownTenantHost(Exception):
    pass


def tenant_slug_from_host(host: str, base_domain: str) -> str | None:
    """``acme.example.com`` → ``acme`` under base ``example.com``; else ``None``."""
    suffix = "." + base_domain
    if host.endswith(suffix):
        label = host[: -len(suffix)]
        if label and "." not in label:
            return label
    return None


def is_neutral_host(host: str, base_domain: str) -> bool:
    """Hosts that name no tenant: the base domain, single-label names such as
    ``localhost``, and IP literals."""
    if host in (base_domain, "localhost") or "." not in host:
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def normalise_host(raw: str) -> str:
    host = raw.strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, resolve_host: HostResolver, base_domain: str) -> None:
        self.app = app
        self.resolve_host = resolve_host
        self.base_domain = base_domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers: list[tuple[bytes, bytes]] = []
        request_id = ""
        host = ""
        for name, value in scope["headers"]:
            if name in STRIPPED_HEADERS:
                continue
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if _REQUEST_ID.match(candidate) else ""
                continue
            if name == b"host":
                host = normalise_host(value.decode("latin-1"))
            headers.append((name, value))
        request_id = request_id or uuid.uuid4().hex
        headers.append((b"x-request-id", request_id.encode()))
        scope = dict(scope, headers=headers)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        set_context(None)  # nothing from a previous request on this task survives
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                out = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k not in (b"x-request-id", b"x-user-id")
                ]
                out.append((b"x-request-id", request_id.encode()))
                user_id = state.get("user_id")
                if user_id:
                    out.append((b"x-user-id", str(user_id).encode()))
                message = dict(message, headers=out)
            await send(message)

        try:
            try:
                state["host_tenant"] = (
                    None
                    if not host or is_neutral_host(host, self.base_domain)
                    else await anyio.to_thread.run_sync(self.resolve_host, host)
                )
            except UnknownTenantHost:
                await _json(
                    send,
                    404,
                    "unknown_tenant_host",
                    "No tenant lives at this host.",
                    request_id,
                    status_holder,
                )
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            host_tenant = state.get("host_tenant")
            _log.info(
                "request",
                request_id=request_id,
                tenant_id=str(state.get("tenant_id") or (host_tenant.id if host_tenant else ""))
                or None,
                user_id=str(state["user_id"]) if state.get("user_id") else None,
                method=scope["method"],
                path=scope["path"],
                status=status_holder["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


async def _json(
    send: Send, status: int, code: str, message: str, request_id: str, holder: dict[str, Any]
) -> None:
    holder["status"] = status
    body = json.dumps({"error": {"code": code, "message": message, "request_id": request_id}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})

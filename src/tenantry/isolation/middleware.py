"""The edge (wall 1): a pure ASGI middleware in front of every request.

* Gives every request an ``x-request-id``: a well-formed inbound one is kept, any
  other is replaced.
* Strips inbound ``x-tenant-id``, ``x-tenant-slug`` and ``x-user-id`` so no client
  chooses a tenant or identity by header.
* Serves only the hosts it knows (``HostPolicy``): the base domain, ``localhost`` and
  the loopback addresses, hosts listed in ``TENANTRY_ALLOWED_HOSTS`` ("neutral": use
  the session's tenant), ``<slug>.<base-domain>`` of an existing tenant, and a
  tenant's verified primary domain. A tenant subdomain with no tenant is 404
  ``unknown_tenant_host``; any other host (a single label such as ``evil``, a foreign
  domain, an IP address that is not loopback) is 400 ``host_not_allowed`` — so nothing
  downstream ever sees, or builds a link or redirect from, a Host an attacker chose.
* Resolves the host's tenant into ``scope["state"]["host_tenant"]`` (``None`` on a
  neutral host).
* Writes one structured log line per request with request, tenant and user ids.

It is pure ASGI (not BaseHTTPMiddleware) so context variables set downstream stay
in the request's task, and it does no catalogue work: the host lookup is one
indexed query, cached briefly per host.

The client address (``scope["client"]``) is whatever the ASGI server put there. Proxy
headers (``X-Forwarded-For``) are the server's business: ``tenantry serve`` tells
uvicorn to honour them only from ``TENANTRY_TRUSTED_PROXIES`` (none by default).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.isolation.context import set_context

STRIPPED_HEADERS = frozenset({b"x-tenant-id", b"x-tenant-slug", b"x-user-id"})
_REPLACED_RESPONSE_HEADERS = (b"x-request-id", b"x-user-id")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
ACCESS_LOGGER = "tenantry.access"
_access: tuple[tuple[Any, ...], Any] | None = None


def access_log() -> Any:
    """The request line's logger, bound once per structlog configuration.

    ``structlog.get_logger`` (``cache_logger_on_first_use=False``, which tests that
    reconfigure structlog rely on) builds a bound logger and its output logger on every
    call — a fixed cost on every request here. This one is rebuilt whenever the
    configuration changes (another processors list, logger factory, wrapper or context
    class); ``structlog.testing.capture_logs`` edits the processors list in place, and
    the bound logger shares that list, so captures still see the line."""
    global _access
    config = structlog.get_config()
    key = (
        config["processors"],
        config["logger_factory"],
        config["wrapper_class"],
        config["context_class"],
    )
    cached = _access
    if cached is not None and all(a is b for a, b in zip(cached[0], key, strict=True)):
        return cached[1]
    logger = structlog.get_logger(ACCESS_LOGGER).bind()
    _access = (key, logger)
    return logger


def new_request_id() -> str:
    """``uuid.uuid4().hex`` (same bits: random, version 4, RFC 4122 variant) without
    building a ``UUID`` object, which costs several times the randomness."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


@dataclass(frozen=True)
class HostTenant:
    id: uuid.UUID
    slug: str
    status: str


HostResolver = Callable[[str], HostTenant | None]
# A resolver's cache, read without I/O: (known, tenant). Known and None: no tenant there.
HostPeek = Callable[[str], tuple[bool, HostTenant | None]]


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


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
# A DNS name: dot-separated labels of letters, digits and hyphens.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})+$")

HostKind = Literal["neutral", "tenant_subdomain", "custom_domain", "refused"]


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts this server answers, and how each names (or not) a tenant.

    ``neutral``: the base domain, loopback names and the operator's extra hosts — no
    tenant from the host. ``tenant_subdomain``: ``<label>.<base-domain>`` — a tenant
    slug. ``custom_domain``: any other DNS name with at least two labels — served only
    if it is a tenant's primary domain. ``refused``: everything else (empty, single
    label, IP addresses other than loopback, anything that is not a DNS name).
    """

    base_domain: str
    extra_hosts: frozenset[str] = frozenset()

    def classify(self, host: str) -> HostKind:
        if host == self.base_domain or host in LOOPBACK_HOSTS or host in self.extra_hosts:
            return "neutral"
        if not _HOSTNAME.match(host) or _is_ip(host):
            return "refused"
        if tenant_slug_from_host(host, self.base_domain) is not None:
            return "tenant_subdomain"
        return "custom_domain"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def normalise_host(raw: str) -> str:
    host = raw.strip().lower().rstrip(".")
    if host.startswith("["):  # [::1]:8000
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        resolve_host: HostResolver,
        base_domain: str,
        extra_hosts: frozenset[str] = frozenset(),
        peek_host: HostPeek | None = None,
    ) -> None:
        self.app = app
        self.resolve_host = resolve_host
        self.peek_host = peek_host
        self.hosts = HostPolicy(base_domain, extra_hosts)

    async def _host_tenant(self, host: str) -> HostTenant | None:
        """The host's tenant: from the resolver's cache on the event loop when it has
        it (most requests), else looked up in a worker thread."""
        if self.peek_host is not None:
            known, found = self.peek_host(host)
            if known:
                if found is None:
                    raise UnknownTenantHost(host)
                return found
        return await anyio.to_thread.run_sync(self.resolve_host, host)

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
        request_id = request_id or new_request_id()
        request_id_bytes = request_id.encode()
        headers.append((b"x-request-id", request_id_bytes))
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
                    for k, v in message.get("headers", ())
                    if k not in _REPLACED_RESPONSE_HEADERS
                ]
                out.append((b"x-request-id", request_id_bytes))
                user_id = state.get("user_id")
                if user_id:
                    out.append((b"x-user-id", str(user_id).encode()))
                message = dict(message, headers=out)
            await send(message)

        try:
            kind = self.hosts.classify(host)
            refusal: tuple[int, str, str] | None = None
            state["host_tenant"] = None
            if kind == "refused":
                refusal = (400, "host_not_allowed", "This server does not serve this host.")
            elif kind != "neutral":
                try:
                    state["host_tenant"] = await self._host_tenant(host)
                except UnknownTenantHost:
                    refusal = (
                        (404, "unknown_tenant_host", "No tenant lives at this host.")
                        if kind == "tenant_subdomain"
                        else (400, "host_not_allowed", "This server does not serve this host.")
                    )
            if refusal is not None:
                await _json(send, *refusal, request_id, status_holder)
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            host_tenant = state.get("host_tenant")
            access_log().info(
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

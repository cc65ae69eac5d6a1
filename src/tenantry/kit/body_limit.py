"""Request body limits, enforced while the body streams in — before anything buffers it.

``BodyLimitMiddleware`` sits right inside the edge middleware, outside the idempotency
middleware and the routes, so no code of ours (and not FastAPI's JSON parsing either)
ever holds more than a route's limit of one request body.

Every route has a *class* of limit, declared in its ``openapi_extra`` under
``x-tenantry-body-limit`` (so clients see it in ``/openapi.json``):

* ``json`` (the default) — ``TENANTRY_JSON_MAX_BYTES``, 1 MiB;
* ``upload`` — ``TENANTRY_UPLOAD_MAX_BYTES`` plus room for the multipart envelope;
* ``webhook`` — ``TENANTRY_WEBHOOK_MAX_BYTES``, 256 KiB (provider events are a few KB).

The byte values of the classes are published once in the document's ``info`` under
``x-tenantry-body-limits``.

Two checks, both answered ``413 payload_too_large`` in the one error shape:

1. a ``Content-Length`` over the limit is refused at once; not one byte is read;
2. otherwise (chunked bodies, or a smaller declared length) bytes are counted as the
   app receives them. The message that crosses the limit makes the app's ``receive``
   raise, and whatever the app then answers — FastAPI turns a failed body read into a
   400, the upload parser into a 422 — is replaced by the 413.

The 413 says ``Connection: close``; the rest of the body is never read, and the server
(uvicorn stops reading a request whose app has answered) closes the connection. The
trap this avoids: a limit checked *after* ``await request.body()`` comes too late —
the memory is already spent, before authentication even ran.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.http_errors import send_error

LimitClass = Literal["json", "upload", "webhook"]
LIMIT_KEY = "x-tenantry-body-limit"
LIMITS_INFO_KEY = "x-tenantry-body-limits"
DEFAULT_CLASS: LimitClass = "json"
# Multipart boundaries, part headers and small fields around the file itself; the
# upload parser enforces the file's own limit exactly.
UPLOAD_ENVELOPE_BYTES = 64 * 1024


def body_limit(kind: LimitClass) -> dict[str, Any]:
    """``openapi_extra`` entry that puts a route in a limit class."""
    return {LIMIT_KEY: kind}


@dataclass(frozen=True)
class BodyLimits:
    json: int
    upload: int
    webhook: int

    def of(self, kind: str) -> int:
        return int(getattr(self, kind))

    def as_dict(self) -> dict[str, int]:
        return {"json": self.json, "upload": self.upload, "webhook": self.webhook}


class BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` when the body crosses its route's limit."""


_Route = tuple[frozenset[str], re.Pattern[str], str]


def _declared_routes(app: FastAPI) -> list[_Route]:
    """(methods, path regex, class) of every route whose class is not the default."""
    from tenantry.isolation.scopes import iter_api_routes

    found: list[_Route] = []
    for route, path in iter_api_routes(app):
        kind = (route.openapi_extra or {}).get(LIMIT_KEY, DEFAULT_CLASS)
        if kind != DEFAULT_CLASS:
            regex, _, _ = compile_path(path)
            found.append((frozenset(route.methods or ()), regex, str(kind)))
    return found


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits
        self._routes: list[_Route] | None = None

    def limit_for(self, scope: Scope) -> int:
        if self._routes is None:  # built once, from the finished app's routes
            self._routes = _declared_routes(scope["app"])
        method, path = scope["method"], scope["path"]
        for methods, regex, kind in self._routes:
            if method in methods and regex.match(path):
                return self.limits.of(kind)
        return self.limits.of(DEFAULT_CLASS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit)
            return

        received = 0
        exceeded = False
        started = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                if exceeded:
                    replaced = True
                    started = True
                    await _too_large(scope, send, limit)
                    return
                started = True
            elif replaced:
                return  # the app's own (error) body, replaced by the 413
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await _too_large(scope, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    message = f"The request body is larger than this route accepts ({limit} bytes)."
    await send_error(
        scope, send, 413, "payload_too_large", message, headers=[(b"connection", b"close")]
    )


_ERROR_SCHEMA = "#/components/schemas/ErrorResponse"


def publish_limits(app: FastAPI, limits: BodyLimits) -> None:
    """Put the byte value of each class in the OpenAPI document's ``info``, and the
    413 answer on every operation that takes a body."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("info", {})[LIMITS_INFO_KEY] = limits.as_dict()
            has_error_model = _ERROR_SCHEMA.rsplit("/", 1)[-1] in schema.get("components", {}).get(
                "schemas", {}
            )
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if not isinstance(operation, dict) or "requestBody" not in operation:
                        continue
                    kind = operation.get(LIMIT_KEY, DEFAULT_CLASS)
                    answer: dict[str, Any] = {
                        "description": f"The body is over this route's limit ({kind}: "
                        f"{limits.of(kind)} bytes; `payload_too_large`)"
                    }
                    if has_error_model:
                        answer["content"] = {
                            "application/json": {"schema": {"$ref": _ERROR_SCHEMA}}
                        }
                    operation.setdefault("responses", {}).setdefault("413", answer)
                    operation.setdefault(LIMIT_KEY, kind)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

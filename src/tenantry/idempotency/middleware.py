"""``Idempotency-Key`` for POSTs on tenant routes: a middleware and a route dependency.

Why two pieces. The stored response must be looked up per tenant, and the tenant is
only known after ``require_tenant`` has authenticated the request — inside the route's
dependencies — while capturing the finished response needs a middleware. So:

* ``IdempotencyMiddleware`` (pure ASGI, inside the edge middleware) handles only POST
  requests carrying the header. It buffers the body, records a fingerprint (method,
  path, query string, body hash) in ``scope["state"]``, and runs the app. If the route
  dependency *claimed* the key, the response is buffered, stored under the claim, then
  sent; if the dependency found a finished request, it raises ``IdempotentReplay``,
  which no handler inside knows, so it reaches this middleware, which sends the stored
  response verbatim with ``Idempotent-Replayed: true``.
* ``idempotency_guard`` runs on every ``tenant_router`` route right after
  ``require_tenant`` (added in ``auth.dependencies.tenant_router``) and does nothing
  unless the middleware marked the request. In the caller's tenant context (guard and
  RLS scope the lookup) it claims the key with an in-progress row in its own short
  transaction, or replays, or refuses: same key with another request (including
  another user's) → 409 ``idempotency_key_reused``; still in progress → 409
  ``idempotency_in_progress``; malformed key → 422 ``idempotency_key_invalid``.

What is kept: responses below 500 except 401/403/408/429 (an authorisation or rate
refusal may change on retry), with a UTF-8 body up to ``MAX_STORED_BYTES``, and their
``content-type`` and ``location`` headers. Anything else — a 5xx, an exception, an
oversized or binary body — deletes the claim so the client can retry with the key.
Public, system and auth routes have no guard: the header is ignored there.

Limits: a replay skips the route's own permission checks (only the same user can
replay, and only what they were already answered); if the process dies between the
route's commit and storing the response, the claim is reclaimed after
``service.STALE_AFTER`` and the request runs again.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.auth.dependencies import get_database, require_tenant
from tenantry.db.engine import Database
from tenantry.idempotency import service
from tenantry.isolation.context import TenantContext

HEADER = b"idempotency-key"
REPLAYED_HEADER = b"idempotent-replayed"
STATE_KEY = "idempotency"
MAX_STORED_BYTES = 1024 * 1024
KEPT_HEADERS = (b"content-type", b"location")
NOT_STORED_STATUSES = frozenset({401, 403, 408, 429})


@dataclass
class Claim:
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    row_id: uuid.UUID


@dataclass
class PendingRequest:
    key: str
    method: str
    path: str
    fingerprint: bytes
    claim: Claim | None = None


class IdempotentReplay(Exception):
    """Raised by the guard, caught by the middleware: send this stored response."""

    def __init__(self, stored: service.StoredResponse) -> None:
        super().__init__("idempotent replay")
        self.stored = stored


async def idempotency_guard(
    request: Request,
    ctx: Annotated[TenantContext, Depends(require_tenant)],
    db: Annotated[Database, Depends(get_database)],
) -> None:
    pending = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(pending, PendingRequest) or request.method != "POST":
        return
    if not service.valid_key(pending.key):
        raise service.IdempotencyKeyInvalid()
    if ctx.tenant_id is None:  # pragma: no cover - require_tenant guarantees one
        return
    outcome = await run_in_threadpool(
        service.claim,
        db=db,
        key=pending.key,
        method=pending.method,
        path=pending.path,
        hashed=service.request_hash(ctx.user_id, pending.fingerprint),
    )
    if isinstance(outcome, service.StoredResponse):
        raise IdempotentReplay(outcome)
    pending.claim = Claim(ctx.tenant_id, ctx.user_id, outcome.row_id)


def _key_from(scope: Scope) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("latin-1")
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = _key_from(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if disconnected:
            return
        pending = PendingRequest(
            key=key,
            method=scope["method"],
            path=scope["path"],
            fingerprint=service.request_fingerprint(
                scope["method"], scope["path"], scope.get("query_string", b""), body
            ),
        )
        scope.setdefault("state", {})[STATE_KEY] = pending
        replayed_body = False

        async def replay_receive() -> Message:
            nonlocal replayed_body
            if not replayed_body:
                replayed_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        start: Message | None = None
        chunks: list[bytes] = []
        buffering = False

        async def capture(message: Message) -> None:
            nonlocal start, buffering
            if message["type"] == "http.response.start":
                buffering = pending.claim is not None
                if buffering:
                    start = message
                    return
            elif message["type"] == "http.response.body" and buffering:
                chunks.append(message.get("body", b""))
                return
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except IdempotentReplay as replay:
            await _send_stored(send, replay.stored)
            return
        except BaseException:
            if pending.claim is not None:
                await _release(scope, pending.claim)
            raise
        if pending.claim is None or start is None:
            return
        await _finish(scope, pending.claim, start, b"".join(chunks))
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), False


def _storable(start: Message, body: bytes) -> dict[str, Any] | None:
    status = int(start["status"])
    if status >= 500 or status in NOT_STORED_STATUSES or len(body) > MAX_STORED_BYTES:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in start.get("headers", [])
        if name.lower() in KEPT_HEADERS
    }
    # The body is kept as text, not parsed: JSONB would reorder keys, and a replay
    # must be byte-for-byte the original.
    return {"headers": headers, "body": text}


def _db(scope: Scope) -> Database:
    db: Database = scope["app"].state.db
    return db


async def _finish(scope: Scope, claim: Claim, start: Message, body: bytes) -> None:
    stored = _storable(start, body)
    if stored is None:
        await _release(scope, claim)
        return
    await run_in_threadpool(
        service.complete,
        db=_db(scope),
        tenant_id=claim.tenant_id,
        user_id=claim.user_id,
        row_id=claim.row_id,
        status=int(start["status"]),
        body=stored,
    )


async def _release(scope: Scope, claim: Claim) -> None:
    await run_in_threadpool(
        service.release,
        db=_db(scope),
        tenant_id=claim.tenant_id,
        user_id=claim.user_id,
        row_id=claim.row_id,
    )


async def _send_stored(send: Send, stored: service.StoredResponse) -> None:
    kept = stored.body.get("headers") or {}
    text = stored.body.get("body") or ""
    payload = text.encode("utf-8") if isinstance(text, str) else json.dumps(text).encode()
    headers = [(str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in kept.items()]
    headers += [
        (b"content-length", str(len(payload)).encode()),
        (REPLAYED_HEADER, b"true"),
    ]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})

"""``Idempotency-Key`` for POSTs on tenant routes: a middleware and a route dependency.

Why two pieces. The stored response must be looked up per tenant, and the tenant is
only known after ``require_tenant`` has authenticated the request — inside the route's
dependencies — while capturing the finished response needs a middleware. So:

* ``IdempotencyMiddleware`` (pure ASGI, inside the edge and body-limit middleware)
  handles only POST requests carrying the header. It reads nothing itself: it hashes
  the body *as the route reads it* (nothing is kept), records the pending request in
  ``scope["state"]``, and runs the app. If the route dependency *claimed* the key, the
  response is buffered, stored under the claim, then sent; if the dependency found a
  finished request, it raises ``IdempotentReplay``, which no handler inside knows, so
  it reaches this middleware, which sends the stored response verbatim with
  ``Idempotent-Replayed: true``.
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

Why nothing is buffered before authentication: an earlier version read the whole body
of any POST with the header before ``require_tenant`` ran, so anyone could make the
server hold gigabytes (issue 8, finding 3). Now the guard, which runs after
authentication, needs the body's hash: JSON routes have read their body by then
(FastAPI reads it before the dependencies); for a route that streams its body itself
(uploads), the guard reads the rest into a spooled temporary file (memory up to
``SPOOL_MEMORY_BYTES``, then disk) that the route then reads from. The body-limit
middleware outside bounds all of it.

Limits: a replay skips the route's own permission checks (only the same user can
replay, and only what they were already answered); if the process dies between the
route's commit and storing the response, the claim is reclaimed after
``service.STALE_AFTER`` and the request runs again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from typing import IO, Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.auth.dependencies import database_of, require_tenant
from tenantry.db.engine import Database
from tenantry.db.unit import ensure_checked
from tenantry.idempotency import service
from tenantry.isolation.context import TenantContext

HEADER = b"idempotency-key"
REPLAYED_HEADER = b"idempotent-replayed"
STATE_KEY = "idempotency"
MAX_STORED_BYTES = 1024 * 1024
KEPT_HEADERS = (b"content-type", b"location")
NOT_STORED_STATUSES = frozenset({401, 403, 408, 429})
SPOOL_MEMORY_BYTES = 1024 * 1024
SPOOL_CHUNK = 64 * 1024


class _Disconnected(Exception):
    """The client went away while the guard read the rest of the body."""


@dataclass
class PendingRequest:
    """A POST with the header: its body hashed as it goes by, never kept whole."""

    key: str
    method: str
    path: str
    query: bytes
    receive: Receive  # the (size-bounded) receive below this middleware
    claim: service.Claim | None = None
    hasher: Any = field(default_factory=hashlib.sha256)
    complete: bool = False
    spool: IO[bytes] | None = None
    spool_left: int = 0

    def feed(self, message: Message) -> None:
        if message["type"] == "http.request" and not self.complete:
            self.hasher.update(message.get("body", b""))
            self.complete = not message.get("more_body", False)

    async def fingerprint(self) -> bytes:
        """The request's fingerprint. Called after authentication: whatever of the body
        the route has not read yet is read now into a spool the route reads next."""
        if not self.complete:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
            while not self.complete:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    spool.close()
                    raise _Disconnected()
                self.feed(message)
                body = message.get("body", b"")
                spool.write(body)
                self.spool_left += len(body)
            spool.seek(0)
            self.spool = spool
        return service.fingerprint_of(self.method, self.path, self.query, self.hasher.digest())

    async def receive_for_app(self) -> Message:
        if self.spool is not None:
            chunk = self.spool.read(SPOOL_CHUNK)
            self.spool_left -= len(chunk)
            if self.spool_left <= 0:
                self.spool.close()
                self.spool = None
            return {"type": "http.request", "body": chunk, "more_body": self.spool is not None}
        message = await self.receive()
        self.feed(message)
        return message

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


class IdempotentReplay(Exception):
    """Raised by the guard, caught by the middleware: send this stored response."""

    def __init__(self, stored: service.StoredResponse) -> None:
        super().__init__("idempotent replay")
        self.stored = stored


async def idempotency_guard(
    request: Request, ctx: Annotated[TenantContext, Depends(require_tenant)]
) -> None:
    pending = request.scope.get("state", {}).get(STATE_KEY)
    if not isinstance(pending, PendingRequest) or request.method != "POST":
        return
    if not service.valid_key(pending.key):
        raise service.IdempotencyKeyInvalid()
    if ctx.tenant_id is None:  # pragma: no cover - require_tenant guarantees one
        return
    # The claim is stored (and a stored answer replayed) in a session of its own: a
    # deferred access check runs first, so a revoked session claims and replays nothing.
    await ensure_checked()
    fingerprint = await pending.fingerprint()
    outcome = await run_in_threadpool(
        service.claim,
        db=database_of(request),
        key=pending.key,
        method=pending.method,
        path=pending.path,
        hashed=service.request_hash(ctx.user_id, fingerprint),
    )
    if isinstance(outcome, service.StoredResponse):
        raise IdempotentReplay(outcome)
    pending.claim = service.Claim(ctx.tenant_id, ctx.user_id, outcome.row_id)


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
        pending = PendingRequest(
            key=key,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b""),
            receive=receive,
        )
        scope.setdefault("state", {})[STATE_KEY] = pending

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
            await self.app(scope, pending.receive_for_app, capture)
        except IdempotentReplay as replay:
            await _send_stored(send, replay.stored)
            return
        except _Disconnected:
            return
        except BaseException:
            if pending.claim is not None:
                await _release(scope, pending.claim)
            raise
        finally:
            pending.close()
        if pending.claim is None or start is None:
            return
        await _finish(scope, pending.claim, start, b"".join(chunks))
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": False})


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


async def _finish(scope: Scope, claim: service.Claim, start: Message, body: bytes) -> None:
    stored = _storable(start, body)
    if stored is None:
        await _release(scope, claim)
        return
    await run_in_threadpool(
        service.complete, db=_db(scope), claim=claim, status=int(start["status"]), body=stored
    )


async def _release(scope: Scope, claim: service.Claim) -> None:
    await run_in_threadpool(service.release, db=_db(scope), claim=claim)


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

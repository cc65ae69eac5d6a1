"""Idempotency rules: claim a key, replay a finished request, refuse misuse.

A key belongs to the tenant (the unique is ``(tenant_id, key)``, and every query runs
in the caller's tenant context, so the same key in another tenant is another key).
The stored request hash covers the caller's user id, the method, path, query string
and body: the same key with anything different is 409 ``idempotency_key_reused`` —
in particular another member of the tenant can never receive someone else's stored
response by guessing their key.

Rows live ``KEY_RETENTION`` (after that the key may be used afresh); an in-progress row
older than ``STALE_AFTER`` is taken to be abandoned (its process died) and reclaimed.
Each function is its own short unit of work, outside the request's transaction: the
claim must be visible to a concurrent retry before the route has finished.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tenantry.db.engine import Database
from tenantry.errors import Conflict, InvalidInput
from tenantry.idempotency import repository
from tenantry.isolation.context import TenantContext, tenant_context

KEY_RETENTION = timedelta(hours=24)
STALE_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class IdempotencyKeyInvalid(InvalidInput):
    code = "idempotency_key_invalid"
    message = "Idempotency-Key must be 1-255 visible ASCII characters."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used for a different request."


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message = "A request with this Idempotency-Key is still being processed; retry later."


@dataclass(frozen=True)
class Claimed:
    row_id: uuid.UUID


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(0x21 <= ord(c) <= 0x7E for c in key)


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> bytes:
    """What identifies the request apart from its caller: method, path, query, body."""
    return fingerprint_of(method, path, query, hashlib.sha256(body).digest())


def fingerprint_of(method: str, path: str, query: bytes, body_digest: bytes) -> bytes:
    """``request_fingerprint`` from the body's SHA-256 (hashed as it streamed by)."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body_digest):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


def request_hash(user_id: uuid.UUID | None, fingerprint: bytes) -> str:
    return hashlib.sha256(str(user_id).encode() + b"\n" + fingerprint).hexdigest()


def claim(
    *, db: Database, key: str, method: str, path: str, hashed: str
) -> Claimed | StoredResponse:
    """In the current tenant context: claim ``key`` or return its stored response."""
    now = datetime.now(UTC)
    with db.session() as session:
        row_id = repository.try_insert(
            session, key=key, method=method, path=path, request_hash=hashed
        )
        if row_id is not None:
            return Claimed(row_id)
        row = repository.get_for_update(session, key=key)
        if row is None:  # deleted (released) between the two statements: claim afresh
            row_id = repository.try_insert(
                session, key=key, method=method, path=path, request_hash=hashed
            )
            if row_id is None:
                raise IdempotencyInProgress()
            return Claimed(row_id)
        expired = now - row.created_at > KEY_RETENTION
        abandoned = row.response_status is None and now - row.created_at > STALE_AFTER
        if expired or (abandoned and row.request_hash == hashed):
            row.method, row.path, row.request_hash = method, path, hashed
            row.response_status, row.response_body, row.created_at = None, None, now
            session.flush()
            return Claimed(row.id)
        if row.request_hash != hashed:
            raise IdempotencyKeyReused()
        if row.response_status is None or row.response_body is None:
            raise IdempotencyInProgress()
        return StoredResponse(row.response_status, row.response_body)


@dataclass(frozen=True)
class Claim:
    """A key this request holds. Storing its answer (or releasing it) runs after the
    request's own unit of work has ended, so it names its tenant and member itself."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    row_id: uuid.UUID

    def context(self) -> TenantContext:
        return TenantContext(tenant_id=self.tenant_id, user_id=self.user_id, scope="tenant")


def complete(*, db: Database, claim: Claim, status: int, body: dict[str, Any]) -> None:
    with tenant_context(claim.context()), db.session() as session:
        repository.store_response(session, row_id=claim.row_id, status=status, body=body)


def release(*, db: Database, claim: Claim) -> None:
    """Forget the claim (server error, or an answer not worth keeping): the client
    may retry with the same key."""
    with tenant_context(claim.context()), db.session() as session:
        repository.delete_row(session, row_id=claim.row_id)

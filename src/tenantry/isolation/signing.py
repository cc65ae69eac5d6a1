"""The ``tenant_sig`` cookie: an HMAC-SHA256 that binds a session to one tenant.

Format: ``v1.<tenant_id>.<user_id>.<session_version>.<issued_at>.<signature>`` where
the signature is HMAC-SHA256 over ``v1|tenant_id|user_id|session_version|issued_at``,
urlsafe-base64 without padding. Keys are a list: the first signs, every key verifies,
so a key can be rotated in and the old one removed later. Verification compares in
constant time against every key (no early exit that would time which key matched).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

VERSION = "v1"
CLOCK_SKEW_S = 60


T = TypeVar("T")


class VerifiedMemo(Generic[T]):
    """What a token decoded to, remembered after its signature verified: the same
    token (the same bytes, under the same keys) always decodes to the same value, so
    its MAC and parse are done once, not on every request. Only successes go in (a
    forged or malformed token is checked every time and fills nothing); the key list is
    part of the key (a removed key no longer verifies anything it signed). Time checks
    (expiry) are the caller's, on every use. Bounded: cleared when full."""

    __slots__ = ("_found", "_size")

    def __init__(self, size: int = 4096) -> None:
        self._found: dict[Hashable, T] = {}
        self._size = size

    def get(self, key: Hashable) -> T | None:
        return self._found.get(key)

    def put(self, key: Hashable, value: T) -> None:
        if len(self._found) >= self._size:
            self._found.clear()
        self._found[key] = value


class SignatureError(Exception):
    """The signature is malformed, forged, signed by an unknown key, or expired."""


@dataclass(frozen=True)
class TenantClaim:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    session_version: int
    issued_at: int


def _message(tenant_id: str, user_id: str, session_version: int, issued_at: int) -> bytes:
    return f"{VERSION}|{tenant_id}|{user_id}|{session_version}|{issued_at}".encode()


def _mac(key: bytes, message: bytes) -> str:
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(
    keys: Sequence[bytes],
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    session_version: int,
    issued_at: int | None = None,
) -> str:
    if not keys:
        raise ValueError("no signing key configured")
    iat = int(time.time()) if issued_at is None else issued_at
    mac = _mac(keys[0], _message(str(tenant_id), str(user_id), session_version, iat))
    return f"{VERSION}.{tenant_id}.{user_id}.{session_version}.{iat}.{mac}"


def verify(
    keys: Sequence[bytes], token: str, *, max_age_s: int, now: float | None = None
) -> TenantClaim:
    """Return the claim in ``token`` or raise ``SignatureError``."""
    memo_key = (token, *keys)
    claim = _verified.get(memo_key)
    if claim is None:
        claim = _verify_mac(keys, token)
        _verified.put(memo_key, claim)
    current = time.time() if now is None else now
    if claim.issued_at > current + CLOCK_SKEW_S:
        raise SignatureError("issued in the future")
    if current - claim.issued_at > max_age_s:
        raise SignatureError("expired")
    return claim


_verified: VerifiedMemo[TenantClaim] = VerifiedMemo()


def _verify_mac(keys: Sequence[bytes], token: str) -> TenantClaim:
    parts = token.split(".")
    if len(parts) != 6 or parts[0] != VERSION:
        raise SignatureError("malformed")
    _, tid, uid, ver, iat, mac = parts
    try:
        claim = TenantClaim(uuid.UUID(tid), uuid.UUID(uid), int(ver), int(iat))
    except ValueError as exc:
        raise SignatureError("malformed") from exc
    # Re-serialise the parsed values so that two spellings of one uuid cannot both verify.
    message = _message(
        str(claim.tenant_id), str(claim.user_id), claim.session_version, claim.issued_at
    )
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(_mac(key, message), mac)
    if not matched:
        raise SignatureError("bad signature")
    return claim

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
from collections.abc import Sequence
from dataclasses import dataclass

VERSION = "v1"
CLOCK_SKEW_S = 60


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
    current = time.time() if now is None else now
    if claim.issued_at > current + CLOCK_SKEW_S:
        raise SignatureError("issued in the future")
    if current - claim.issued_at > max_age_s:
        raise SignatureError("expired")
    return claim

"""Signing and verifying payment webhooks (Stripe style).

Header ``Tenantry-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
HMAC-SHA256, keyed by ``settings.webhook_secret``, over ``f"{t}.{raw_body}"``. Several
``v1=`` entries may be present (the sender signs with the old and the new secret
while rotating); one matching is enough. Comparison is constant-time.

Order of checks: the header must parse (400 ``signature_malformed``), a ``v1`` must
match (400 ``signature_invalid``), and only then is the timestamp checked against the
tolerance (400 ``signature_expired``) — so "expired" is said only of messages that
were genuinely signed, and a replay of a captured delivery stops at the tolerance.

``sign_payload`` is for tests and for anyone integrating a sender.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from tenantry.errors import TenantryError

HEADER = "Tenantry-Signature"
SCHEME = "v1"
_HEX = re.compile(r"^[0-9a-f]{64}$")


class SignatureMalformed(TenantryError):
    code = "signature_malformed"
    message = "The Tenantry-Signature header is missing or malformed."


class SignatureInvalid(TenantryError):
    code = "signature_invalid"
    message = "The webhook signature does not match."


class SignatureExpired(TenantryError):
    code = "signature_expired"
    message = "The webhook signature is too old or from the future."


def compute_signature(secret: str, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_payload(secret: str, payload: bytes, *, timestamp: int | None = None) -> str:
    """The ``Tenantry-Signature`` header value for ``payload`` (now, unless given)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={compute_signature(secret, t, payload)}"


def parse_header(header: str | None) -> tuple[int, list[str]]:
    """``(timestamp, [v1 signatures])``; raises ``SignatureMalformed``."""
    if not header or len(header) > 4096:
        raise SignatureMalformed()
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureMalformed()
        if key == "t":
            if timestamp is not None or not value.isdigit() or len(value) > 12:
                raise SignatureMalformed()
            timestamp = int(value)
        elif key == SCHEME:
            if not _HEX.match(value):
                raise SignatureMalformed()
            signatures.append(value)
        # Other schemes (v0, future ones) are ignored, as providers do.
    if timestamp is None or not signatures:
        raise SignatureMalformed()
    return timestamp, signatures


def verify_signature(
    secret: str,
    payload: bytes,
    header: str | None,
    *,
    tolerance_s: int,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``payload``; return the signed timestamp."""
    timestamp, signatures = parse_header(header)
    expected = compute_signature(secret, timestamp, payload)
    # Compare against every candidate (no early exit), each in constant time.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureInvalid()
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureExpired()
    return timestamp

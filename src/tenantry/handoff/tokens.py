"""Hand-off tokens: one tenant host vouches, once and briefly, for a user to another.

Cookies are host-only (``__Host-`` under HTTPS), so a session on ``acme.example.com``
means nothing on ``globex.example.com``. Switching tenant on a tenant host therefore
sends the browser to the other host with a token in the URL *fragment* (never sent to
a server, never in a Referer or an access log), which the page there exchanges for a
session of its own.

Format: ``v1.<user_id>.<tenant_id>.<session_version>.<issued_at>.<nonce>.<mac>``, the
MAC an HMAC-SHA256 under the app's keys (first signs, all verify, every key tried).
A token is refused when forged, older than ``MAX_AGE_S``, for another tenant than the
host's, after the user's sessions were revoked (version), or used before. "Used
before" is remembered in this process; with several workers a replay inside the
minute could reach another worker — the fragment never leaves the browser, so that
would take the browser's own history.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from tenantry.errors import Forbidden

VERSION = "v1"
MAX_AGE_S = 60
CLOCK_SKEW_S = 5


class HandoffInvalid(Forbidden):
    code = "handoff_invalid"
    message = "This sign-in link is invalid, expired or already used; sign in again."


@dataclass(frozen=True)
class Handoff:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    session_version: int
    issued_at: int
    nonce: str


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, ("handoff|" + body).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(
    keys: Sequence[bytes],
    *,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    session_version: int,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    body = ".".join(
        [VERSION, str(user_id), str(tenant_id), str(session_version), str(issued),
         secrets.token_urlsafe(12)]
    )  # fmt: skip
    return f"{body}.{_mac(keys[0], body)}"


def read(keys: Sequence[bytes], token: str, *, now: float | None = None) -> Handoff:
    """The token's claims, if its MAC is right and it is fresh (not yet: unused)."""
    parts = token.split(".")
    if len(parts) != 7 or parts[0] != VERSION:
        raise HandoffInvalid()
    body, mac = ".".join(parts[:6]), parts[6]
    matches = [hmac.compare_digest(_mac(key, body), mac) for key in keys]
    if not any(matches):
        raise HandoffInvalid()
    try:
        claim = Handoff(
            user_id=uuid.UUID(parts[1]),
            tenant_id=uuid.UUID(parts[2]),
            session_version=int(parts[3]),
            issued_at=int(parts[4]),
            nonce=parts[5],
        )
    except ValueError as exc:
        raise HandoffInvalid() from exc
    current = time.time() if now is None else now
    if not (claim.issued_at - CLOCK_SKEW_S <= current <= claim.issued_at + MAX_AGE_S):
        raise HandoffInvalid()
    return claim


class UsedNonces:
    """Nonces seen in the last ``MAX_AGE_S`` (+ skew): a token works once."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, nonce: str, *, now: float | None = None) -> None:
        current = time.time() if now is None else now
        with self._lock:
            horizon = current - MAX_AGE_S - CLOCK_SKEW_S
            for old in [n for n, at in self._seen.items() if at < horizon]:
                del self._seen[old]
            if nonce in self._seen:
                raise HandoffInvalid()
            self._seen[nonce] = current

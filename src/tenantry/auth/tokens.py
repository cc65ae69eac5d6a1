"""The tokens in e-mailed links: signed, expiring, and single-use through their row.

A token is the id of a database row (an ``account_tokens`` row, or an invitation)
signed with the app's key list (itsdangerous, a salt per purpose, the issue time
inside). Nothing secret is stored: the database holds the row, not the token, so a
reader of the database (or of the job queue, which carries the row id to the mail
worker) cannot make a working link; and a token cannot be forged or moved to another
purpose without the key. The row makes it single-use (``used_at`` / ``accepted_at``)
and revocable, and carries its own expiry; the signature's age is checked too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer

from tenantry.errors import TenantryError
from tenantry.settings import Settings

Purpose = Literal["verify_email", "reset_password", "invitation"]

LIFETIMES: dict[Purpose, timedelta] = {
    "verify_email": timedelta(days=2),
    "reset_password": timedelta(hours=1),
    "invitation": timedelta(days=7),
}

# Where each link points (a page of the web UI, which posts the token to the API).
PAGES: dict[Purpose, str] = {
    "verify_email": "/verify-email",
    "reset_password": "/reset-password",
    "invitation": "/accept-invitation",
}


class InvalidToken(TenantryError):
    code = "invalid_token"
    message = "This link is invalid, has expired or was already used; ask for a new one."


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    # itsdangerous signs with the *last* key; ours is the first (rotation: all verify).
    return URLSafeTimedSerializer(
        list(reversed(settings.signing_keys)), salt=f"tenantry.{purpose}.v1"
    )


def sign(settings: Settings, purpose: Purpose, payload: dict[str, str]) -> str:
    return str(_serializer(settings, purpose).dumps(payload))


def read(settings: Settings, purpose: Purpose, token: str) -> dict[str, Any]:
    """The payload of a valid, unexpired token of ``purpose``; ``InvalidToken`` otherwise."""
    max_age = int(LIFETIMES[purpose].total_seconds())
    try:
        payload = _serializer(settings, purpose).loads(token, max_age=max_age)
    except BadSignature as exc:  # includes SignatureExpired
        raise InvalidToken() from exc
    if not isinstance(payload, dict):
        raise InvalidToken()
    return payload


def link(settings: Settings, purpose: Purpose, payload: dict[str, str]) -> str:
    """The link to put in a message: always from ``TENANTRY_PUBLIC_URL``, never from the
    Host of some request (a forged Host must not end up in someone's inbox)."""
    base = settings.public_url.rstrip("/")
    return f"{base}{PAGES[purpose]}?token={sign(settings, purpose, payload)}"

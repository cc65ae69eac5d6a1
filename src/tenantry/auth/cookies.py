"""The two cookies: the session and ``tenant_sig``.

The session cookie is signed (itsdangerous, same key list as everything else) and
carries the session id (a ``user_sessions`` row), user id, active tenant id and slug,
session version, issue time and last seen time. Any app process can serve any request:
the route dependency checks the session row and the user's session version in one
query, so logout (row deleted) and logout-everywhere (version bumped) bite at once. The
idle timeout is enforced by re-issuing the cookie with a fresh ``seen`` as the user is
active; the absolute timeout counts from ``iat`` and is never extended.

Under HTTPS both cookies take the ``__Host-`` prefix (Secure, Path=/, no Domain), so
a sibling subdomain cannot plant them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, fields, replace
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from tenantry.isolation import signing
from tenantry.settings import Settings

SESSION_COOKIE = "tenantry_session"
SIG_COOKIE = "tenant_sig"
SEEN_REFRESH_S = 60


@dataclass(frozen=True)
class SessionData:
    session_id: uuid.UUID
    user_id: uuid.UUID
    session_version: int
    issued_at: int
    seen_at: int
    tenant_id: uuid.UUID | None = None
    tenant_slug: str | None = None


def cookie_name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if settings.https else base


def _serializer(keys: list[bytes]) -> URLSafeSerializer:
    # itsdangerous treats the *last* key as the signing key; ours is the first.
    return URLSafeSerializer(list(reversed(keys)), salt="tenantry.session.v1")


def encode_session(settings: Settings, data: SessionData) -> str:
    # Field by field, not ``asdict``: that deep-copies every value (the UUIDs) and ran on
    # every re-issue of the cookie; the payload is the same, in the same order.
    values = ((f.name, getattr(data, f.name)) for f in fields(data))
    payload: dict[str, Any] = {k: v for k, v in values if v is not None}
    for key in ("session_id", "user_id", "tenant_id"):
        if key in payload:
            payload[key] = str(payload[key])
    return _serializer(settings.signing_keys).dumps(payload)


def decode_session(
    settings: Settings, token: str, *, now: float | None = None
) -> SessionData | None:
    """The session in ``token``, or ``None`` if forged, malformed or timed out."""
    keys = settings.signing_keys
    memo_key = (token, *keys)
    data = _verified.get(memo_key)
    if data is None:
        data = _decode(keys, token)
        if data is None:
            return None
        _verified.put(memo_key, data)
    current = time.time() if now is None else now
    if current - data.issued_at > settings.session_absolute_timeout_s:
        return None
    if current - data.seen_at > settings.session_idle_timeout_s:
        return None
    return data


# Verified sessions by token (``signing.VerifiedMemo``): the timeouts above are checked
# on every use; the signature and the parse once per distinct cookie.
_verified: signing.VerifiedMemo[SessionData] = signing.VerifiedMemo()


def _decode(keys: list[bytes], token: str) -> SessionData | None:
    try:
        raw = _serializer(keys).loads(token)
        data = SessionData(
            session_id=uuid.UUID(raw["session_id"]),
            user_id=uuid.UUID(raw["user_id"]),
            session_version=int(raw["session_version"]),
            issued_at=int(raw["issued_at"]),
            seen_at=int(raw["seen_at"]),
            tenant_id=uuid.UUID(raw["tenant_id"]) if raw.get("tenant_id") else None,
            tenant_slug=raw.get("tenant_slug"),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return data


def read_session(settings: Settings, request: Request) -> SessionData | None:
    token = request.cookies.get(cookie_name(settings, SESSION_COOKIE))
    return decode_session(settings, token) if token else None


def read_sig(settings: Settings, request: Request) -> str | None:
    return request.cookies.get(cookie_name(settings, SIG_COOKIE))


def _set(settings: Settings, response: Response, base: str, value: str) -> None:
    response.set_cookie(
        cookie_name(settings, base),
        value,
        max_age=settings.session_absolute_timeout_s,
        path="/",
        secure=settings.https,
        httponly=True,
        samesite="lax",
    )


def issue_cookies(
    settings: Settings,
    response: Response,
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    session_version: int,
    tenant_id: uuid.UUID | None,
    tenant_slug: str | None,
    issued_at: int | None = None,
) -> SessionData:
    now = int(time.time())
    data = SessionData(
        session_id=session_id,
        user_id=user_id,
        session_version=session_version,
        issued_at=issued_at or now,
        seen_at=now,
        tenant_id=tenant_id,
        tenant_slug=tenant_slug,
    )
    _set(settings, response, SESSION_COOKIE, encode_session(settings, data))
    if tenant_id is not None:
        sig = signing.sign(
            settings.signing_keys,
            tenant_id=tenant_id,
            user_id=user_id,
            session_version=session_version,
        )
        _set(settings, response, SIG_COOKIE, sig)
    else:
        clear_cookie(settings, response, SIG_COOKIE)
    return data


def refresh_seen(settings: Settings, response: Response, data: SessionData) -> None:
    """Slide the idle timeout forward (at most once a minute per session)."""
    now = int(time.time())
    if now - data.seen_at >= SEEN_REFRESH_S:
        fresh = replace(data, seen_at=now)
        _set(settings, response, SESSION_COOKIE, encode_session(settings, fresh))


def clear_cookie(settings: Settings, response: Response, base: str) -> None:
    response.delete_cookie(
        cookie_name(settings, base), path="/", secure=settings.https, httponly=True, samesite="lax"
    )


def clear_all(settings: Settings, response: Response) -> None:
    clear_cookie(settings, response, SESSION_COOKIE)
    clear_cookie(settings, response, SIG_COOKIE)

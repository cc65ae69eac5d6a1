"""Cross-site request forgery: what SameSite=Lax does not stop.

Tenant hosts are siblings (``acme.example.com``, ``globex.example.com``): to a
browser they are the *same site*, so a page on one sends Lax cookies with a form it
posts to another. Two checks close that, for every state-changing request:

1. **Origin.** A browser always sends ``Origin`` with a POST/PUT/PATCH/DELETE (page
   script cannot remove it). It must be this very origin — a sibling subdomain, another
   port or ``null`` is refused (``csrf_origin_mismatch``), and so is
   ``Sec-Fetch-Site: same-site`` / ``cross-site``.
2. **Token.** A browser request that carries a valid session must also send
   ``X-CSRF-Token``: an HMAC of the session (user and sign-in time) under the app's
   keys, which only our own pages know (they render it into
   ``<meta name="csrf-token">``; another origin cannot read it). Missing or wrong:
   ``csrf_token_invalid``.

A request with no browser marker (no ``Origin``, no ``Sec-Fetch-Site``) is an API
client — curl, a script, a server — that holds its own cookies: no victim browser is
involved, so it needs no token. The token survives a tenant switch (same sign-in
time) and dies with the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.auth import cookies
from tenantry.auth.cookies import SessionData
from tenantry.http_errors import send_error
from tenantry.settings import Settings

HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _mac(key: bytes, session: SessionData) -> str:
    message = f"csrf|v1|{session.user_id}|{session.issued_at}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for(settings: Settings, session: SessionData) -> str:
    return _mac(settings.signing_keys[0], session)


def token_valid(keys: Sequence[bytes], session: SessionData, token: str) -> bool:
    # Every key is tried, without an early exit (rotation; no timing of the match).
    results = [hmac.compare_digest(_mac(key, session), token) for key in keys]
    return any(results)


def _same_origin(origin: str, scope: Scope, headers: dict[str, str], https: bool) -> bool:
    """``Origin`` names this server: same host and port, and our scheme (behind a TLS
    proxy the app may see http while the browser says https)."""
    schemes = {str(scope.get("scheme", "http"))} | ({"https"} if https else set())
    host = headers.get("host", "").lower()
    return any(origin.lower() == f"{scheme}://{host}" for scheme in schemes)


class CsrfMiddleware:
    """Pure ASGI: refuses forged state-changing requests before any route runs."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._check(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        code, message = refusal
        await send_error(scope, send, 403, code, message)

    def _check(self, scope: Scope, headers: dict[str, str]) -> tuple[str, str] | None:
        origin = headers.get("origin")
        fetch_site = headers.get("sec-fetch-site")
        if origin is not None and not _same_origin(origin, scope, headers, self.settings.https):
            return ("csrf_origin_mismatch", "This request came from another site.")
        if fetch_site in ("same-site", "cross-site"):
            return ("csrf_origin_mismatch", "This request came from another site.")
        if origin is None and fetch_site is None:
            return None  # not a browser: an API client with its own cookies
        session = self._session(headers)
        if session is None:
            return None  # nothing to ride on (signing in, signing up, public forms)
        token = headers.get(HEADER, "")
        if not token or not token_valid(self.settings.signing_keys, session, token):
            return ("csrf_token_invalid", "The page is out of date; reload it and try again.")
        return None

    def _session(self, headers: dict[str, str]) -> SessionData | None:
        raw = headers.get("cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed Cookie header: no session
            return None
        morsel = jar.get(cookies.cookie_name(self.settings, cookies.SESSION_COOKIE))
        return cookies.decode_session(self.settings, morsel.value) if morsel else None

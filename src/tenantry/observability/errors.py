"""Error reports with ``sentry-sdk``, on when ``SENTRY_DSN`` is set.

Each report is tagged with ``tenant.id``, ``tenant.slug``, ``user.id``, ``request.id``
and ``route.scope`` (the observability middleware sets them on the request's scope as
the error passes; ``before_send`` fills them from the tenant context for errors
outside a request). Nothing secret leaves: no default PII, the SDK's scrubber with
our cookie and secret names added, cookies and credential headers dropped, and any
``tenant_sig=``/session cookie value or bearer token left in a message or a local
variable replaced by ``[Filtered]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sentry_sdk
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.transport import Transport

from tenantry.auth.cookies import SESSION_COOKIE, SIG_COOKIE
from tenantry.isolation.context import current_context

FILTERED = "[Filtered]"
DENYLIST = [
    *DEFAULT_DENYLIST,
    SIG_COOKIE,
    SESSION_COOKIE,
    f"__Host-{SIG_COOKIE}",
    f"__Host-{SESSION_COOKIE}",
    "sig",
    "signature",
    "tenantry-signature",
    "x-scanner-secret",
    "secret_keys",
    "signing_keys",
    "webhook_secret",
    "av_secret",
    "password_hash",
    "database_url",
    "metrics_token",
]
_HEADERS_DROPPED = frozenset(
    {"cookie", "authorization", "tenantry-signature", "x-scanner-secret", "proxy-authorization"}
)
# Cookie values and bearer tokens wherever they appear in free text.
_SECRET_TEXT = re.compile(
    rf"((?:__Host-)?(?:{SIG_COOKIE}|{SESSION_COOKIE})=)[^;\s,'\"]+|(Bearer\s+)[^\s,'\"]+",
    re.IGNORECASE,
)


def _scrub_text(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + FILTERED, value)
    if isinstance(value, dict):
        return {k: _scrub_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_text(v) for v in value]
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: (FILTERED if k.lower() in _HEADERS_DROPPED else v) for k, v in headers.items()
            }
    tags = event.setdefault("tags", {})
    ctx = current_context()
    if ctx is not None:
        if ctx.tenant_id is not None:
            tags.setdefault("tenant.id", str(ctx.tenant_id))
        if ctx.user_id is not None:
            tags.setdefault("user.id", str(ctx.user_id))
        if ctx.request_id:
            tags.setdefault("request.id", ctx.request_id)
        tags.setdefault("route.scope", ctx.scope)
    scrubbed: dict[str, Any] = _scrub_text(event)
    return scrubbed


def setup_error_reports(
    dsn: str | None,
    *,
    transport: Transport | type[Transport] | Callable[..., Any] | None = None,
    **options: Any,
) -> bool:
    """Start the SDK when a DSN is given (``transport`` is for tests)."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        send_default_pii=False,
        include_local_variables=True,
        event_scrubber=EventScrubber(denylist=list(DENYLIST), recursive=True),
        before_send=before_send,  # type: ignore[arg-type]
        transport=transport,
        **options,
    )
    return True

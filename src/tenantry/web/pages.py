"""Rendering the page shells: one Jinja2 environment, one set of security headers.

A shell holds no tenant data. What it may carry: the page's name, the signed-in
user's CSRF token (``<meta name="csrf-token">``, read by our scripts for their
state-changing calls) and, on a tenant's host, that tenant's public name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tenantry.auth import cookies, csrf
from tenantry.settings import Settings

HERE = Path(__file__).resolve().parent
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)

# No inline script or style anywhere: the pages load only our own files.
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
BASE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

# The headers of an ordinary page (the operator's security view uses them too).
PAGE_HEADERS: Final = {"Content-Security-Policy": PAGE_CSP, **BASE_HEADERS}


def csrf_token(request: Request | None) -> str | None:
    """The signed-in user's CSRF token, or ``None`` without a valid session."""
    if request is None:
        return None
    settings: Settings = request.app.state.settings
    session = cookies.read_session(settings, request)
    return csrf.token_for(settings, session) if session else None


def render(
    name: str,
    *,
    request: Request | None = None,
    csp: str = PAGE_CSP,
    status_code: int = 200,
    **values: object,
) -> HTMLResponse:
    host_tenant = getattr(request.state, "host_tenant", None) if request else None
    html = _templates.get_template(name).render(
        csrf_token=csrf_token(request),
        host_slug=host_tenant.slug if host_tenant else None,
        **values,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Content-Security-Policy": csp, **BASE_HEADERS},
    )

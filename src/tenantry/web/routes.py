"""Server-rendered pages: the sign-in form and the signed-in shell with the tenant switcher.

The pages are shells (public scope): they hold no data of any tenant. Everything they
show comes from the scoped API, called by ``static/app.js`` with the user's own cookies,
so every wall applies to the web UI exactly as it does to any other API client.

Static files are served by a public-scoped route from a fixed allow-list rather than a
``StaticFiles`` mount: the app refuses to start on a route without a declared scope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tenantry.auth import cookies
from tenantry.auth.dependencies import SettingsDep
from tenantry.errors import NotFound
from tenantry.kit.demo import demo_accounts
from tenantry.routing import public_router
from tenantry.settings import Settings

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)

# The only files /static/ will ever serve: name → media type.
STATIC_FILES: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}

# No inline script or style anywhere: the pages load only our own two files.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

router = public_router(tags=["web"], include_in_schema=False)


def _page(name: str, **values: object) -> HTMLResponse:
    html = _templates.get_template(name).render(**values)
    return HTMLResponse(html, headers=PAGE_HEADERS)


def _signed_in(settings: Settings, request: Request) -> bool:
    # A well-formed, unexpired session cookie. Whether it is still valid (not revoked)
    # is for the API to say; the page then sends the user back to /login.
    return cookies.read_session(settings, request) is not None


def _show_demo_hint(settings: Settings) -> bool:
    # Only the documented, public demo password is ever shown; a chosen one never is.
    default: str = Settings.model_fields["demo_password"].default
    return settings.demo_password == default


@router.get("/")
def home(request: Request, settings: SettingsDep) -> RedirectResponse:
    """The app when signed in, else the sign-in page."""
    target = "/app" if _signed_in(settings, request) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(settings: SettingsDep) -> HTMLResponse:
    """The sign-in form (it posts JSON to /api/auth/login)."""
    show_demo = _show_demo_hint(settings)
    return _page(
        "login.html",
        title="Sign in",
        demo_password=settings.demo_password if show_demo else None,
        demo_accounts=demo_accounts() if show_demo else [],
    )


@router.get("/app", response_class=HTMLResponse, response_model=None)
def app_page(request: Request, settings: SettingsDep) -> Response:
    """The signed-in shell: header, tenant switcher and the role's dashboard."""
    if not _signed_in(settings, request):
        return RedirectResponse("/login", status_code=303)
    return _page("app.html", title="Dashboard")


@router.get("/static/{name}", response_class=FileResponse)
def static_file(name: str) -> FileResponse:
    """One of the UI's own files (a fixed allow-list; nothing else is reachable)."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound()
    return FileResponse(
        STATIC_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )

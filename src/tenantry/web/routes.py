"""Server-rendered pages: the sign-in form and the signed-in shell with the tenant switcher.

The pages are shells (public scope): they hold no data of any tenant. Everything they
show comes from the scoped API, called by ``static/app.js`` with the user's own cookies,
so every wall applies to the web UI exactly as it does to any other API client.

Static files are served by a public-scoped route from a fixed allow-list rather than a
``StaticFiles`` mount: the app refuses to start on a route without a declared scope.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from tenantry.auth import cookies
from tenantry.auth.dependencies import SettingsDep
from tenantry.errors import NotFound
from tenantry.kit.demo import CONSULTANT, demo_accounts
from tenantry.routing import public_router
from tenantry.settings import Settings
from tenantry.web.docs import router as docs_router
from tenantry.web.pages import HERE, PAGE_HEADERS, render

STATIC_DIR = HERE / "static"
__all__ = ["PAGE_HEADERS", "STATIC_FILES", "routers"]
BOTH = frozenset({CONSULTANT})  # demo accounts that belong to every demo tenant
MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _static_files() -> dict[str, tuple[Path, str]]:
    """The only files /static/ will ever serve: the UI's own, listed once at start-up
    (relative name → path and media type); nothing else is reachable."""
    found: dict[str, tuple[Path, str]] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        media_type = MEDIA_TYPES.get(path.suffix)
        if path.is_file() and media_type:
            found[path.relative_to(STATIC_DIR).as_posix()] = (path, media_type)
    return found


STATIC_FILES: Final = _static_files()

router = public_router(tags=["web"], include_in_schema=False)


def _signed_in(settings: Settings, request: Request) -> bool:
    # A well-formed, unexpired session cookie. Whether it is still valid (not revoked)
    # is for the API to say; the page then sends the user back to /login.
    return cookies.read_session(settings, request) is not None


def _show_demo_hint(settings: Settings) -> bool:
    # Only the documented, public demo password is ever shown; a chosen one never is.
    default: str = Settings.model_fields["demo_password"].default
    return settings.demo_password == default


def _host_slug(request: Request) -> str | None:
    host_tenant = getattr(request.state, "host_tenant", None)
    return host_tenant.slug if host_tenant else None


def _to_login(request: Request) -> RedirectResponse:
    # Back to the page asked for after signing in (the login page checks it is ours).
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


@router.get("/", response_class=HTMLResponse, response_model=None)
def home(request: Request, settings: SettingsDep) -> Response:
    """A tenant's host: its public page. Elsewhere: the app, or the sign-in page."""
    if _host_slug(request):
        return render("public.html", request=request, title="Welcome")
    target = "/app" if _signed_in(settings, request) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The sign-in form (it posts JSON to /api/auth/login). On a tenant's host it is
    branded for that tenant and lists only that tenant's demo accounts."""
    show_demo = _show_demo_hint(settings)
    slug = _host_slug(request)
    accounts = demo_accounts() if show_demo else []
    if slug:
        accounts = [a for a in accounts if a[0].endswith(f"@{slug}.test") or a[0] in BOTH]
    return render(
        "login.html",
        request=request,
        title="Sign in",
        brand_name="Tenantry",
        demo_password=settings.demo_password if show_demo and accounts else None,
        demo_accounts=accounts,
    )


@router.get("/app", response_class=HTMLResponse, response_model=None)
@router.get("/app/{section:path}", response_class=HTMLResponse, response_model=None)
def app_page(request: Request, settings: SettingsDep, section: str = "") -> Response:
    """The signed-in app; which area it shows is read from the address by its script."""
    if not _signed_in(settings, request):
        return _to_login(request)
    return render("app.html", request=request, title="Tenantry")


# The account pages: one template, one form each. Four of them open from an e-mailed
# link (``?token=``); the page posts the token to the account API.
ACCOUNT_PAGES: Final = {
    # path: (form, title) -- what the page is for
    "/signup": ("signup", "Create an account"),  # a client of the tenant whose host this is
    "/verify-email": ("verify", "Confirm your address"),  # sign-up link: confirm, with the password
    "/forgot-password": ("forgot", "Reset your password"),  # ask for a password-reset link
    "/reset-password": ("reset", "Choose a new password"),  # reset link: a new password
    "/accept-invitation": ("invitation", "Your invitation"),  # see who invites you, then join
}


def _account_page(form: str, title: str) -> Callable[[Request], HTMLResponse]:
    def page(request: Request) -> HTMLResponse:
        return render("account.html", request=request, title=title, form=form)

    return page


for _path, (_form, _title) in ACCOUNT_PAGES.items():
    router.add_api_route(
        _path,
        _account_page(_form, _title),
        methods=["GET"],
        response_class=HTMLResponse,
        name=f"{_form}_page",
    )


@router.get("/auth/handoff", response_class=HTMLResponse)
def handoff_page(request: Request) -> HTMLResponse:
    """Arriving from another tenant's host: the page redeems the one-time token."""
    return render("handoff.html", request=request, title="Signing you in")


@router.get("/favicon.ico", response_class=FileResponse)
def favicon() -> FileResponse:
    """The icon browsers ask for on every page (an SVG; no 404 in the console)."""
    return _serve("favicon.svg")


@router.get("/static/{name:path}", response_class=FileResponse)
def static_file(name: str) -> FileResponse:
    """One of the UI's own files (a fixed allow-list; nothing else is reachable)."""
    return _serve(name)


def _serve(name: str) -> FileResponse:
    found = STATIC_FILES.get(name)
    if found is None:
        raise NotFound()
    path, media_type = found
    return FileResponse(
        path,
        media_type=media_type,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


# The docs router first: its /static/vendor/ files are not ours to list.
routers = [docs_router, router]

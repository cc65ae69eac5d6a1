"""/docs and /redoc render in Chromium with every request to anything but the app
refused (the machine has no internet), under the page's Content-Security-Policy."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.browser.conftest import new_page

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Page, Route, expect


def _offline_page(browser: Browser, live_url: str) -> tuple[Page, list[str], list[str]]:
    """A page that may reach only the app; what it tried elsewhere and what the
    console reported as errors (CSP violations included) are collected."""
    page = new_page(browser, live_url)
    app_host = urlsplit(live_url).netloc
    blocked: list[str] = []
    errors: list[str] = []

    def only_the_app(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == app_host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.context.route("**/*", only_the_app)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, blocked, errors


def test_swagger_ui_renders_offline_from_our_own_files(
    browser: Browser, live_url: str, shoot: Callable[..., Path]
) -> None:
    page, blocked, errors = _offline_page(browser, live_url)
    try:
        response = page.goto("/docs")
        assert response is not None and response.ok
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-eval" not in csp
        # Generous: the first /openapi.json is built on demand, slow on a busy machine.
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tenantry", timeout=60_000)
        expect(page.locator(".opblock-tag-section").first).to_be_visible()
        # An operation opens with its parameters and responses.
        page.locator(".opblock-summary-path", has_text="/api/portal/availability").first.click()
        expect(page.locator(".opblock.is-open .parameters").first).to_be_visible()
        shoot(page, "swagger", full=False)
        assert blocked == [], blocked
        assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
    finally:
        page.context.close()


def test_redoc_renders_offline_from_our_own_files(
    browser: Browser, live_url: str, shoot: Callable[..., Path]
) -> None:
    page, blocked, errors = _offline_page(browser, live_url)
    try:
        assert page.goto("/redoc") is not None
        expect(page.locator("h1", has_text="Tenantry")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("/api/portal/availability").first).to_be_attached()
        shoot(page, "redoc", full=False)
        assert blocked == [], blocked
        # ReDoc's footer badge points at its vendor's CDN; the policy stops it (an image,
        # nothing else). No script or style was refused.
        assert not [e for e in errors if "Content Security Policy" in e and "img-src" not in e]
    finally:
        page.context.close()


def test_vendor_files_are_an_allow_list(page: Any) -> None:
    assert page.request.get("/static/vendor/swagger-ui-bundle.js").status == 200
    assert "Apache" in page.request.get("/static/vendor/LICENSES.txt").text()
    for name in ("core.py", "..%2F__init__.py", "favicon.png"):
        assert page.request.get(f"/static/vendor/{name}").status == 404, name
    icon = page.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")

"""Offline API documentation: Swagger UI at /docs and ReDoc at /redoc.

FastAPI's own pages fetch Swagger UI and ReDoc from a CDN (blank without internet) and
start them with inline scripts (refused by our Content-Security-Policy). These pages
load the assets that the ``fastapi-offline`` wheel ships (Swagger UI 5, which reads
OpenAPI 3.1, and ReDoc's standalone build, both under their own licences — see
``vendor_licence``) plus one start-up script of ours, all from this server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse

from tenantry.routing import public_router
from tenantry.web.files import listed_file
from tenantry.web.pages import render

VENDOR_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
VENDOR_FILES: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}

# Swagger UI and ReDoc style their elements from script (style attributes and
# generated <style> rules), so these two pages allow inline *styles*; scripts stay
# 'self' only. ReDoc runs its search in a blob: worker.
DOCS_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

router = public_router(tags=["docs"], include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json, with every asset served by Tenantry."""
    return render("docs.html", request=request, csp=DOCS_CSP, title="API", kind="swagger")


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over /openapi.json, with every asset served by Tenantry."""
    return render("docs.html", request=request, csp=DOCS_CSP, title="API reference", kind="redoc")


@router.get("/static/vendor/LICENSES.txt", response_class=PlainTextResponse)
def vendor_licence() -> PlainTextResponse:
    """Where the vendored documentation assets come from and under which licences."""
    return PlainTextResponse(
        "Swagger UI (swagger-ui-bundle.js, swagger-ui.css): Apache License 2.0, "
        "SmartBear Software.\n"
        "ReDoc (redoc.standalone.js): MIT License, Redocly.\n"
        "Both as shipped in the fastapi-offline wheel (MIT License, Neal Turett); "
        "each bundle's header names its third-party licences.\n"
    )


@router.get("/static/vendor/{name}", response_class=FileResponse)
def vendor_file(name: str) -> FileResponse:
    """Swagger UI's and ReDoc's files (a fixed allow-list)."""
    return listed_file(VENDOR_DIR, VENDOR_FILES, name, cache_control="public, max-age=86400")

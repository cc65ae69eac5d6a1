"""One handler shape for every error: ``{"error": {"code", "message", "request_id"}}``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from tenantry.errors import RateLimited, TenantryError

_log = structlog.get_logger("tenantry.errors")
_security = structlog.get_logger("tenantry.security")

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `tenant_sig_invalid`.")
    message: str
    request_id: str | None = Field(description="Also in the `x-request-id` header.")
    details: Any = Field(default=None, description="Field errors of a 422, when any.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_body(request: Request, code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": getattr(request.state, "request_id", None),
    }
    if details is not None:
        body["details"] = details
    return {"error": body}


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer in the one error shape from pure ASGI middleware, which refuses before any
    route (and so before these handlers) runs: body limits, CSRF, quotas."""
    request_id = (scope.get("state") or {}).get("request_id")
    body = json.dumps(
        {"error": {"code": code, "message": message, "request_id": request_id}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TenantryError)
    async def _domain(request: Request, exc: TenantryError) -> JSONResponse:
        if isinstance(exc, RateLimited):
            # Every limiter (login, contact form, tenant and user quotas) ends here:
            # one security log line each (metrics, operator view).
            _security.warning("security_event", code=exc.code, path=request.url.path)
        return JSONResponse(
            error_body(request, exc.code, exc.detail, jsonable_encoder(exc.details)),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            error_body(request, "validation_error", "The request is invalid.", details),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(
            error_body(request, code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value PostgreSQL refuses to store (NUL characters, out-of-range numbers or
        # dates) that input validation let through: the client's input, not our fault.
        _log.info("data_error", path=request.url.path, error=str(exc.orig).split("\n")[0])
        return JSONResponse(
            error_body(request, "invalid_value", "A value in the request cannot be stored."),
            status_code=422,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Last line of defence: services turn constraint failures into precise codes.
        # The database's detail is never echoed — it could name another tenant's value.
        _log.warning("integrity_error", path=request.url.path, constraint=_constraint(exc))
        return JSONResponse(
            error_body(request, "conflict", "The request conflicts with stored data."),
            status_code=409,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled_error", path=request.url.path)
        return JSONResponse(
            error_body(request, "internal_error", "Something went wrong on our side."),
            status_code=500,
        )


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)

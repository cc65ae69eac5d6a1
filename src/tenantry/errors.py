"""Domain errors that carry their HTTP status and a stable machine-readable code.

Every error names its HTTP meaning by the base it subclasses (``Unauthorized``,
``Forbidden``, ``NotFound``, ``Conflict``, ``Gone``, ``InvalidInput``, ...), so a
declaration is its code and message only; ``TenantryError`` itself is a 400.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TenantryError(Exception):
    """The root of the domain errors; raised as is, or through a subclass that names no
    other status, it answers 400."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "Bad request."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        details: Any = None,
    ) -> None:
        self.detail = message or self.message
        self.headers = headers or {}
        self.details = details
        super().__init__(self.detail)


class Unauthorized(TenantryError):
    status_code = 401
    code = "unauthorized"
    message = "Unauthorized."


class NotAuthenticated(Unauthorized):
    code = "not_authenticated"
    message = "Sign in first."


class Forbidden(TenantryError):
    status_code = 403
    code = "forbidden"
    message = "You may not do this."


class TenantSigMissing(Forbidden):
    code = "tenant_sig_missing"
    message = "The tenant signature cookie is missing."


class TenantSigInvalid(Forbidden):
    code = "tenant_sig_invalid"
    message = "The tenant signature is invalid or expired."


class TenantMismatchForbidden(Forbidden):
    code = "tenant_mismatch"
    message = "The session, signature and host name different tenants."


class NotAMember(Forbidden):
    code = "not_a_member"
    message = "You are not a member of this tenant."


class SessionRevoked(Forbidden):
    code = "session_revoked"
    message = "This session was revoked; sign in again."


class TenantSuspended(Forbidden):
    code = "tenant_suspended"
    message = "This tenant is suspended."


class NoActiveTenant(Forbidden):
    code = "no_active_tenant"
    message = "Choose a tenant first (POST /api/tenant/switch)."


class EmailNotVerified(Forbidden):
    code = "email_not_verified"
    message = (
        "Confirm your e-mail address first: open the link we sent you "
        "(signing up again sends a new one)."
    )


class RoleRequired(Forbidden):
    code = "role_required"
    message = "Your role does not allow this."


class NotFound(TenantryError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class Conflict(TenantryError):
    status_code = 409
    code = "conflict"
    message = "Conflict."


class InvalidInput(TenantryError):
    """Well-formed input the domain refuses (a rule, a range, a reference): 422. Each
    such fault subclasses this with its own code."""

    status_code = 422
    code = "invalid_input"
    message = "The request cannot be carried out as sent."


class Gone(TenantryError):
    status_code = 410
    code = "gone"
    message = "Gone."


class PayloadTooLarge(TenantryError):
    status_code = 413
    code = "payload_too_large"
    message = "The file is larger than this server accepts."


class UnsupportedMediaType(TenantryError):
    status_code = 415
    code = "unsupported_media_type"
    message = "This type of file is not accepted."


class InternalError(TenantryError):
    """A fault on our side that the code detects (a broken invariant, a check that
    failed): 500, never the caller's fault."""

    status_code = 500
    code = "internal_error"
    message = "Something went wrong on our side."


class BadGateway(TenantryError):
    """A service we depend on failed or refused (the mail server)."""

    status_code = 502
    code = "bad_gateway"
    message = "A service we depend on failed."


class LastOwner(Conflict):
    """The team's rule, whoever changes it (an owner in the app, an operator)."""

    code = "last_owner"
    message = "A tenant needs at least one owner: make someone else owner first."


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "Wrong email or password."


class RateLimited(TenantryError):
    status_code = 429
    code = "rate_limited"
    message = "Too many attempts; try again later."


class DatabaseUnavailable(Exception):
    """The database cannot be reached; the CLI prints one line and exits non-zero."""

"""The tenant context: who is acting, for which tenant, in which scope.

It lives in a ``contextvars.ContextVar`` so it follows the request (or job) through
async code and into worker threads, and never leaks between concurrent requests.
It is set only by the route dependency (``auth.dependencies``) or the job runner,
never from anything the client sends.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

import structlog

from tenantry.errors import InternalError, NotFound

Scope = Literal["tenant", "public", "system"]

_log = structlog.get_logger("tenantry.isolation")


@dataclass(frozen=True)
class TenantContext:
    tenant_id: uuid.UUID | None
    user_id: uuid.UUID | None = None
    role: str | None = None
    request_id: str | None = None
    scope: Scope = "tenant"
    reason: str | None = None  # why a system scope was entered (audited)


class TenantContextMissing(InternalError):
    code = "tenant_context_missing"
    message = "A tenant-owned resource was used outside a tenant context."


class TenantMismatch(NotFound):
    """Another tenant's row: answered exactly as a row that does not exist."""


_current: ContextVar[TenantContext | None] = ContextVar("tenantry_tenant_context", default=None)


def current_context() -> TenantContext | None:
    return _current.get()


def require_context() -> TenantContext:
    """The active tenant context; raises when there is none (fail closed)."""
    ctx = _current.get()
    if ctx is None or (ctx.scope == "tenant" and ctx.tenant_id is None):
        raise TenantContextMissing()
    return ctx


def require_tenant_id() -> uuid.UUID:
    ctx = require_context()
    if ctx.tenant_id is None:
        raise TenantContextMissing()
    return ctx.tenant_id


@contextlib.contextmanager
def tenant_context(ctx: TenantContext) -> Iterator[TenantContext]:
    """Run a block inside ``ctx``. For the route dependency, the job runner and tests."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def set_context(ctx: TenantContext | None) -> None:
    """Set the context for the rest of the current task (the route dependency's use)."""
    _current.set(ctx)


@contextlib.contextmanager
def dangerously_enter_system_scope(*, reason: str) -> Iterator[TenantContext]:
    """Leave tenant scoping behind for a lifecycle job. Audited; use sparingly.

    Inside, the ORM guard adds no tenant filter. Pair it with a privileged session
    (``db.engine.system_session``) — the app role stays under RLS regardless.
    """
    if not reason.strip():
        raise ValueError("a system scope needs a reason")
    outer = _current.get()
    ctx = TenantContext(
        tenant_id=None,
        user_id=outer.user_id if outer else None,
        request_id=outer.request_id if outer else None,
        scope="system",
        reason=reason,
    )
    _log.info("system_scope_entered", reason=reason, request_id=ctx.request_id)
    with tenant_context(ctx):
        yield ctx

"""Routers for the three route scopes, and the error responses routes document.

Every route runs in the request's one unit of work (``tenantry.db.unit``: one session,
one transaction, the endpoint and the commit in one call on the event loop).
``tenant_router`` routes authenticate with ``require_tenant`` (walls 2 and 3) and carry
``idempotency_guard``; ``public_router`` routes take the tenant from the host (when
they name one) or none; ``system_router`` routes serve callers with no user session
(webhooks, the scanner). Every route's errors are documented with the one error body.

This module sits above ``auth``, ``idempotency`` and ``quotas``: they import nothing
from it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status

from tenantry.auth.dependencies import require_tenant
from tenantry.db.unit import UNIT_HOOKS
from tenantry.http_errors import ErrorResponse
from tenantry.idempotency.middleware import idempotency_guard
from tenantry.isolation.context import TenantContext
from tenantry.isolation.scopes import RouteHooks, provides_tenant_context, scoped_router
from tenantry.kit.dep_plan import planned
from tenantry.quotas.dependency import enforce_quota, refuse_spent_quota

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"description": "No such record in this tenant (`not_found`)"}}
# A slug another record of this tenant holds (posts, services: the kit's ``SlugTaken``).
SLUG_TAKEN: Responses = {409: {"description": "The slug is taken in this tenant (`slug_taken`)"}}
# Routes for a signed-in user on a public router (no tenant yet): their two refusals.
SIGNED_IN: Responses = {
    401: {"description": "Not signed in"},
    403: {"description": "Session revoked"},
}
# Routes that take the token of an e-mailed link (sign-up, reset, invitation).
BAD_TOKEN: Responses = {400: {"description": "Invalid, expired or used link (`invalid_token`)"}}
# A route that answers 204 with no body (a delete): ``@router.delete(path, **NO_CONTENT)``
# and an endpoint that returns None. The plain ``Response`` class: no JSON content type.
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}


@provides_tenant_context
async def tenant_gate(request: Request, response: Response) -> TenantContext:
    """Every tenant route's way in, in this order: a spent budget is refused first,
    before any database work (``refuse_spent_quota``); then ``require_tenant``; the
    request is counted after authentication (``enforce_quota``); and
    ``idempotency_guard`` (a no-op unless a POST carries an ``Idempotency-Key``).

    One dependency that calls the four, not four dependencies: FastAPI's solving of
    each dependency cost more than most of these do. The route's own
    ``Depends(require_tenant)`` (``CurrentTenant``, the permission checks) then gets
    the context this call verified (``require_tenant`` runs once per unit)."""
    await refuse_spent_quota(request)
    ctx: TenantContext = await require_tenant(request, response)
    await enforce_quota(request, ctx)
    await idempotency_guard(request, ctx)
    return ctx


# The unit of work around each route (``tenantry.db.unit``), and inside it FastAPI's
# handler solving the route's dependencies from a plan made once (``tenantry.kit.dep_plan``;
# FastAPI's own solver where the plan does not apply).
ROUTE_HOOKS = RouteHooks(
    endpoint=UNIT_HOOKS.endpoint,
    handler=lambda handler: UNIT_HOOKS.handler(planned(handler)),
)


def tenant_router(**kwargs: Any) -> APIRouter:
    """Tenant-scoped routes, authenticated by ``require_tenant`` through ``tenant_gate``
    (with the tenant's and user's request budgets, see ``tenantry.quotas``, and the
    idempotency guard)."""
    deps = [Depends(tenant_gate), *kwargs.pop("dependencies", [])]
    return scoped_router(
        "tenant",
        dependencies=deps,
        error_model=ErrorResponse,
        error_codes=(401, 403, 422, 429),
        hooks=ROUTE_HOOKS,
        **kwargs,
    )


def public_router(**kwargs: Any) -> APIRouter:
    return scoped_router(
        "public", error_model=ErrorResponse, error_codes=(422,), hooks=ROUTE_HOOKS, **kwargs
    )


def system_router(**kwargs: Any) -> APIRouter:
    return scoped_router(
        "system", error_model=ErrorResponse, error_codes=(422,), hooks=ROUTE_HOOKS, **kwargs
    )

"""Route scopes: every route says whether it is ``tenant``, ``public`` or ``system``.

The rule: no API route without a declared scope, and no tenant route without the
tenant context. Routers are built with ``scoped_router``; the app refuses to start
(``assert_routes_scoped``) when any route declares no scope, or declares ``tenant``
without depending on the tenant-context dependency. The scope and required roles are
published in OpenAPI as ``x-tenantry-scope`` / ``x-tenantry-roles``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from tenantry.isolation.context import Scope

SCOPES: tuple[Scope, ...] = ("tenant", "public", "system")
# Framework routes that are not API routes (documentation only).
FRAMEWORK_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

CONTEXT_PROVIDER_FLAG = "__tenantry_provides_tenant_context__"
ROLES_ATTR = "__tenantry_roles__"
PERMISSIONS_ATTR = "__tenantry_permissions__"
HOOKED_ATTR = "__tenantry_hooked__"


class UnscopedRouteError(RuntimeError):
    pass


@dataclass(frozen=True)
class RouteHooks:
    """How the app runs a scoped route's work (domain-free here: the app's request
    unit of work, ``tenantry.db.unit``, plugs in): ``endpoint`` wraps each endpoint
    when the route is built, ``handler`` wraps the request handler FastAPI builds."""

    endpoint: Callable[[Callable[..., Any]], Callable[..., Any]]
    handler: Callable[[Any], Any]


def provides_tenant_context(func: Callable[..., Any]) -> Callable[..., Any]:
    """Mark the dependency that authenticates and sets the tenant context."""
    setattr(func, CONTEXT_PROVIDER_FLAG, True)
    return func


def _route_class(
    scope: Scope,
    error_model: type[Any] | None,
    error_codes: Sequence[int],
    hooks: RouteHooks | None,
) -> type[APIRoute]:
    class ScopedRoute(APIRoute):
        tenantry_scope: Scope = scope

        def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
            if hooks is not None and not getattr(endpoint, HOOKED_ATTR, False):
                # FastAPI reads the signature, annotations and globals through
                # ``__wrapped__`` (functools.wraps), so the route's parameters are
                # the endpoint's own.
                endpoint = hooks.endpoint(endpoint)
                setattr(endpoint, HOOKED_ATTR, True)
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["x-tenantry-scope"] = scope
            kwargs["openapi_extra"] = extra
            if error_model is not None:
                kwargs["responses"] = _with_error_model(
                    kwargs.get("responses") or {}, error_model, error_codes
                )
            super().__init__(path, endpoint, **kwargs)
            roles = sorted({r for c in _calls(self.dependant) for r in getattr(c, ROLES_ATTR, ())})
            if roles:
                extra["x-tenantry-roles"] = roles
            permissions = route_permissions(self)
            if permissions:
                extra["x-tenantry-permissions"] = permissions

        def get_route_handler(self) -> Any:
            handler = super().get_route_handler()
            return handler if hooks is None else hooks.handler(handler)

    ScopedRoute.__name__ = f"{scope.title()}ScopedRoute"
    return ScopedRoute


def _with_error_model(
    responses: dict[int | str, dict[str, Any]], model: type[Any], codes: Sequence[int]
) -> dict[int | str, dict[str, Any]]:
    """Document every 4xx/5xx of the route with the one error body the app sends."""
    merged: dict[int | str, dict[str, Any]] = {code: {} for code in codes}
    merged.update(responses)
    for code, spec in list(merged.items()):
        if str(code)[0] in "45" and "model" not in spec:
            merged[code] = {"model": model, **spec}
    return merged


def scoped_router(
    scope: Scope,
    *,
    dependencies: Sequence[params.Depends] | None = None,
    error_model: type[Any] | None = None,
    error_codes: Sequence[int] = (),
    hooks: RouteHooks | None = None,
    **kwargs: Any,
) -> APIRouter:
    """A router whose routes declare ``scope``; with ``error_model``, every error
    response (and each of ``error_codes``) is documented with that body; with
    ``hooks``, every route's endpoint and handler are wrapped by them."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    return APIRouter(
        route_class=_route_class(scope, error_model, error_codes, hooks),
        dependencies=dependencies,
        **kwargs,
    )


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def route_scope(route: APIRoute) -> Scope | None:
    return getattr(route, "tenantry_scope", None)


def iter_routes(app: FastAPI) -> Iterator[tuple[BaseRoute, str]]:
    """Every route of the app with its full path, through included routers.

    FastAPI ≥ 0.120 keeps included routers as nodes instead of copying their routes
    into ``app.routes``; ``iter_route_contexts`` walks them. Older versions list the
    routes flat.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        for route in app.routes:
            yield route, getattr(route, "path", "")
        return
    for ctx in iter_route_contexts(app.routes):
        yield ctx.original_route, str(ctx.path or getattr(ctx.original_route, "path", ""))


def iter_api_routes(app: FastAPI) -> Iterator[tuple[APIRoute, str]]:
    for route, path in iter_routes(app):
        if isinstance(route, APIRoute):
            yield route, path


def route_permissions(route: APIRoute) -> list[str]:
    """The permissions a route's dependencies require (all of them), sorted."""
    return sorted({p for c in _calls(route.dependant) for p in getattr(c, PERMISSIONS_ATTR, ())})


def assert_routes_scoped(app: FastAPI) -> None:
    """Fail (at start-up and in the test suite) on any route without a proper scope."""
    problems: list[str] = []
    for route, path in iter_routes(app):
        if not isinstance(route, APIRoute):
            if path not in FRAMEWORK_PATHS:
                problems.append(f"{path}: not an API route with a declared scope")
            continue
        scope = route_scope(route)
        label = f"{','.join(sorted(route.methods or []))} {path}"
        if scope is None:
            problems.append(f"{label}: declares no scope")
            continue
        calls = list(_calls(route.dependant))
        if scope == "tenant" and not any(getattr(c, CONTEXT_PROVIDER_FLAG, False) for c in calls):
            problems.append(f"{label}: tenant scope without the tenant-context dependency")
    if problems:
        raise UnscopedRouteError("routes without a proper scope:\n  " + "\n  ".join(problems))

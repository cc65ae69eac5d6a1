"""A route's dependencies solved from a flat plan computed once, not by FastAPI's recursion.

FastAPI's request handler (``fastapi.routing.get_request_handler``) calls
``fastapi.dependencies.utils.solve_dependencies`` for every request. That function walks the
route's ``Dependant`` tree recursively and, at every node and on every request, works out
again what never changes: the cache key of each dependency (``_get_cache_key``, which asks
``_uses_scopes`` of the whole subtree), whether its call is a generator, a coroutine or
neither, and, for each path/query/header/cookie parameter, its aliases, whether it is a
sequence, a parameter model or JSON (``request_params_to_args``; ~5.5 us per query
parameter per request in ``bench/README.md``'s profile, 58 us on a list page).

``DependencyPlan.build(dependant)`` does that work once, from FastAPI's own tree: the
tree's nodes in the order FastAPI solves them (post-order: a dependency's own
dependencies, then its parameters, then its call), each with its cache key, its kind of
call and its parameters' extraction prepared. ``DependencyPlan.solve`` then runs the same
steps for a request and returns FastAPI's own ``SolvedDependency``:

- every dependency is called, in the same order, with the same arguments (a dependency
  used twice is solved twice, its call answered from the request's cache when
  ``use_cache`` is set, exactly as FastAPI does; a dependency whose parameters (or whose
  own dependencies' parameters) failed is not called, the others still are);
- the same errors in the same order (the same ``field.validate`` and FastAPI's own
  ``get_missing_field_error``; bodies go through FastAPI's ``request_body_to_args``,
  parameter models through its ``request_params_to_args``, generator dependencies through
  its ``_solve_generator``, sync ones through ``run_in_threadpool``);
- one ``Response`` for the dependencies' headers and cookies, one ``BackgroundTasks``.

``planned(handler)`` gives a handler FastAPI built for a route a copy of the same function
whose global ``solve_dependencies`` is the plan's (``types.FunctionType`` with the
module's globals copied, the closure unchanged), so everything else in the handler —
reading the body, the 422, running the endpoint, serialising — is FastAPI's code. Where
the plan cannot promise FastAPI's behaviour the handler is returned unchanged (the
reason is kept on it as ``tenantry_dep_plan_fallback``):

- ``TENANTRY_DEPENDENCY_PLAN=off``;
- a handler that is not FastAPI's own (another integration wrapped it, e.g. Sentry's
  ``_sentry_app``), or a FastAPI whose handler or ``solve_dependencies`` differ from
  the ones this was written for (0.165: the keyword arguments are checked);
- security scopes anywhere in the tree (``SecurityScopes``, OAuth scopes), a dependency
  with a concurrency limit, a WebSocket parameter;
- and, per request, ``app.dependency_overrides`` set: FastAPI's own solver runs.

``tests/unit/test_dep_plan.py`` and ``tests/integration/test_dep_plan_routes.py`` show the
same values, errors, call order, caching, background tasks and response headers as
FastAPI's solver, for crafted routes and for every route of the app.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import os
import types
from collections.abc import Callable, Coroutine
from copy import deepcopy
from typing import Any

import fastapi.routing
from fastapi import params
from fastapi._compat import (
    ModelField,
    Undefined,
    field_annotation_is_sequence,
    get_missing_field_error,
)
from fastapi.background import BackgroundTasks
from fastapi.dependencies import utils as fastapi_utils
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import SolvedDependency
from pydantic.fields import FieldInfo
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response

ENV = "TENANTRY_DEPENDENCY_PLAN"
FALLBACK_ATTR = "tenantry_dep_plan_fallback"
PLAN_ATTR = "tenantry_dep_plan"

_fastapi_solve = fastapi_utils.solve_dependencies
_Undefined = Undefined
_SOLVE_PARAMS = (
    "request",
    "dependant",
    "body",
    "background_tasks",
    "response",
    "dependency_overrides_provider",
    "dependency_cache",
    "async_exit_stack",
    "embed_body_fields",
    "_uses_scopes_cache",
)
# FastAPI's private helpers the plan calls (0.165); without any of them nothing is planned.
_FASTAPI_HELPERS = (
    "_get_param_aliases",
    "_get_param_model",
    "_is_json_field",
    "_solve_generator",
    "request_body_to_args",
    "request_params_to_args",
)
try:
    from fastapi.dependencies.models import (
        _get_cache_key,
        _is_async_gen_callable,
        _is_coroutine_callable,
        _is_gen_callable,
    )
except ImportError:  # pragma: no cover - another FastAPI: FastAPI's own solver everywhere
    _MISSING: str | None = "FastAPI's dependency helpers moved"
else:
    _gone = [name for name in _FASTAPI_HELPERS if not hasattr(fastapi_utils, name)]
    _MISSING = f"FastAPI has no {', '.join(_gone)}" if _gone else None
try:  # the request's native telemetry, if FastAPI records any (private; 0.165)
    from fastapi.telemetry._api import _get_request_telemetry as _request_telemetry
except ImportError:  # pragma: no cover - another FastAPI: no lean handler
    _request_telemetry = None  # type: ignore[assignment]
_ATOMIC = (type(None), bool, int, float, str, bytes, enum.Enum)

_GEN, _ASYNC, _SYNC = 0, 1, 2


class Unplannable(Exception):
    """The plan cannot promise FastAPI's behaviour for this dependant (the reason)."""


def enabled() -> bool:
    return os.environ.get(ENV, "on").strip().lower() not in ("off", "0", "false", "no")


class _Param:
    """One path/query/header/cookie parameter, as ``request_params_to_args`` reads it."""

    __slots__ = (
        "alias",
        "aliases",
        "copy_default",
        "default",
        "factory",
        "field",
        "getlist",
        "loc",
        "name",
        "required",
        "seq",
        "validate_default",
    )

    def __init__(self, field: ModelField) -> None:
        info = field.field_info
        assert isinstance(info, params.Param)
        self.field = field
        self.name = field.name
        pairs = fastapi_utils._get_param_aliases(field)
        self.aliases: tuple[str, ...] | None = (
            tuple(request for _, request in pairs) if len(pairs) > 1 else None
        )
        self.alias = pairs[0][1]
        self.loc = (info.in_.value, self.alias)
        self.seq = field_annotation_is_sequence(info.annotation)
        self.getlist = self.seq and not fastapi_utils._is_json_field(field)
        self.required = info.is_required()
        self.validate_default = info.validate_default
        # ``field.default`` calls a default factory: that stays per request.
        self.factory = info.default_factory is not None
        self.default = None if self.factory or self.required else field.default
        self.copy_default = not isinstance(self.default, _ATOMIC)

    def read(self, received: Any, values: dict[str, Any], errors: list[Any]) -> None:
        alias, loc = self.alias, self.loc
        if self.aliases is not None:
            alias = next((a for a in self.aliases if a in received), self.aliases[0])
            loc = (loc[0], alias)
        value: Any
        if self.getlist and isinstance(received, ImmutableMultiDict | Headers):
            value = received.getlist(alias)
        else:
            value = received.get(alias, None)
        if value is None or (self.seq and len(value) == 0):
            if self.required:
                errors.append(get_missing_field_error(loc=loc))
                return
            if self.factory:
                value = deepcopy(self.field.default)
            elif self.copy_default:
                value = deepcopy(self.default)
            else:
                value = self.default
            if not self.validate_default:
                values[self.name] = value
                return
        v, errs = self.field.validate(value, values, loc=loc)
        if errs:
            errors.extend(errs)
        else:
            values[self.name] = v


class _ModelParam:
    """A parameter model (``Annotated[Model, Query()]``): FastAPI's own code reads it."""

    __slots__ = ("field",)

    def __init__(self, field: ModelField) -> None:
        self.field = field

    def read(self, received: Any, values: dict[str, Any], errors: list[Any]) -> None:
        v, errs = fastapi_utils.request_params_to_args([self.field], received)
        values.update(v)
        errors.extend(errs)


def _param(field: ModelField) -> _Param | _ModelParam:
    if fastapi_utils._get_param_model(field) is not None:
        return _ModelParam(field)
    return _Param(field)


class _Step:
    """One node of the tree: its own parameters, then (unless it is the root) its call."""

    __slots__ = (
        "background_name",
        "body",
        "call",
        "connection_name",
        "dependant",
        "first",
        "key",
        "kind",
        "name",
        "parent",
        "request_name",
        "response_name",
        "scope",
        "sources",
        "use_cache",
    )

    def __init__(self, dependant: Dependant, first: int) -> None:
        self.dependant = dependant
        self.parent = -1  # index of the step this one's value goes to (-1: the root)
        self.first = first  # index of the first step of this node's subtree
        self.call = dependant.call
        self.name = dependant.name
        self.use_cache = dependant.use_cache
        self.scope = dependant.scope
        self.key = _get_cache_key(dependant=dependant, uses_scopes_cache={})
        call = dependant.call
        if _is_gen_callable(call) or _is_async_gen_callable(call):
            self.kind = _GEN
        elif _is_coroutine_callable(call):
            self.kind = _ASYNC
        else:
            self.kind = _SYNC
        # The parameters read from each part of the request, in FastAPI's order, each with
        # the Request attribute that holds them; a part this step reads nothing from is
        # left out, so its headers or cookies are parsed only if some step reads them.
        self.sources = tuple(
            (source, [_param(f) for f in fields])
            for source, fields in (
                ("path_params", dependant.path_params),
                ("query_params", dependant.query_params),
                ("headers", dependant.header_params),
                ("cookies", dependant.cookie_params),
            )
            if fields
        )
        self.body = list(dependant.body_params)
        self.connection_name = dependant.http_connection_param_name
        self.request_name = dependant.request_param_name
        self.background_name = dependant.background_tasks_param_name
        self.response_name = dependant.response_param_name


def _check(dependant: Dependant) -> None:
    if dependant.security_scopes_param_name is not None:
        raise Unplannable(f"security scopes ({dependant.call!r})")
    if dependant.own_oauth_scopes or dependant.parent_oauth_scopes:
        raise Unplannable(f"OAuth scopes ({dependant.call!r})")
    if dependant.concurrency is not None:
        raise Unplannable(f"a concurrency limit ({dependant.call!r})")
    if dependant.websocket_param_name is not None:
        raise Unplannable("a WebSocket parameter")
    for field in (*dependant.path_params, *dependant.query_params,
                  *dependant.header_params, *dependant.cookie_params):  # fmt: skip
        if not isinstance(field.field_info, params.Param) or not isinstance(
            field.field_info, FieldInfo
        ):
            raise Unplannable(f"parameter {field.name!r} of an unknown kind")


class DependencyPlan:
    """The flat plan of one route's ``Dependant`` (see the module's docstring)."""

    __slots__ = ("root", "steps")

    def __init__(self, root: Dependant, steps: list[_Step]) -> None:
        self.root = root
        self.steps = steps

    @classmethod
    def build(cls, dependant: Dependant) -> DependencyPlan:
        steps: list[_Step] = []

        def add(node: Dependant) -> int:
            """Append ``node``'s subtree in FastAPI's order (its dependencies, then the
            node itself); the node's index."""
            _check(node)
            first = len(steps)
            children = [add(child) for child in node.dependencies]
            steps.append(_Step(node, first=first))
            index = len(steps) - 1
            for child in children:
                steps[child].parent = index
            return index

        root = steps[add(dependant)]
        root.kind = -1  # the endpoint: FastAPI's handler calls it
        return cls(dependant, steps)

    async def solve(
        self,
        *,
        request: Any,
        dependant: Dependant,
        body: Any = _Undefined,
        dependency_overrides_provider: Any | None = None,
        async_exit_stack: Any,
        embed_body_fields: bool,
        **more: Any,
    ) -> SolvedDependency:
        """FastAPI's ``solve_dependencies`` for the plan's route (same arguments)."""
        if (
            more
            or dependant is not self.root
            or not isinstance(request, Request)
            or (
                dependency_overrides_provider and dependency_overrides_provider.dependency_overrides
            )
        ):
            return await _fastapi_solve(
                request=request,
                dependant=dependant,
                body=body,
                dependency_overrides_provider=dependency_overrides_provider,
                async_exit_stack=async_exit_stack,
                embed_body_fields=embed_body_fields,
                **more,
            )
        scope = request.scope
        request_astack = scope.get("fastapi_inner_astack")
        function_astack = scope.get("fastapi_function_astack")
        assert request_astack is not None, "fastapi_inner_astack not found in request scope"
        assert function_astack is not None, "fastapi_function_astack not found in request scope"
        response = Response()
        del response.headers["content-length"]
        response.status_code = None  # type: ignore[assignment]
        cache: dict[Any, Any] = {}
        errors: list[Any] = []
        background: BackgroundTasks | None = None
        steps = self.steps
        frames: list[dict[str, Any]] = [{} for _ in steps]
        errors_at = [0] * len(steps)
        for i, step in enumerate(steps):
            errors_at[i] = len(errors)
            values = frames[i]
            for source, read_from_it in step.sources:
                received: Any = getattr(request, source)
                for p in read_from_it:
                    p.read(received, values, errors)
            if step.body:
                body_values, body_errors = await fastapi_utils.request_body_to_args(
                    body_fields=step.body,
                    received_body=body,
                    embed_body_fields=embed_body_fields,
                )
                values.update(body_values)
                errors.extend(body_errors)
            if step.connection_name:
                values[step.connection_name] = request
            if step.request_name:
                values[step.request_name] = request
            if step.background_name:
                if background is None:
                    background = BackgroundTasks()
                values[step.background_name] = background
            if step.response_name:
                values[step.response_name] = response
            if step.kind < 0:  # the root: the endpoint is the handler's to call
                return SolvedDependency(
                    values=values,
                    errors=errors,
                    background_tasks=background,
                    response=response,
                    dependency_cache=cache,
                )
            if len(errors) > errors_at[step.first]:
                continue  # this node or one below it failed: FastAPI does not call it
            key = step.key
            if step.use_cache and key in cache:
                solved = cache[key]
            elif step.kind == _ASYNC:
                solved = await step.call(**values)  # type: ignore[misc]
            elif step.kind == _GEN:
                solved = await fastapi_utils._solve_generator(
                    request=request,
                    dependant=step.dependant,
                    stack=function_astack if step.scope == "function" else request_astack,
                    sub_values=values,
                )
            else:
                solved = await run_in_threadpool(step.call, **values)  # type: ignore[arg-type]
            if step.name is not None:
                frames[step.parent][step.name] = solved
            if key not in cache:
                cache[key] = solved
        raise AssertionError("unreachable: the root is the last step")  # pragma: no cover


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _fastapi_handler_parts(handler: Any) -> dict[str, Any]:
    """The closure of FastAPI's own request handler, or Unplannable."""
    code = getattr(handler, "__code__", None)
    if (
        not isinstance(handler, types.FunctionType)
        or getattr(handler, "__qualname__", "") != "get_request_handler.<locals>.app"
        or handler.__module__ != "fastapi.routing"
        or handler.__globals__ is not vars(fastapi.routing)
        or code is None
    ):
        raise Unplannable(f"not FastAPI's own request handler ({handler!r})")
    if "solve_dependencies" not in code.co_names:
        raise Unplannable("FastAPI's handler no longer calls solve_dependencies")
    if handler.__globals__.get("solve_dependencies") is not _fastapi_solve:
        raise Unplannable("fastapi.routing.solve_dependencies was replaced")
    if tuple(inspect.signature(_fastapi_solve).parameters) != _SOLVE_PARAMS:
        raise Unplannable("FastAPI's solve_dependencies has other parameters")
    cells = dict(zip(code.co_freevars, handler.__closure__ or (), strict=True))
    if "dependant" not in cells:
        raise Unplannable("FastAPI's handler has no dependant")
    return {name: cell.cell_contents for name, cell in cells.items()}


def plan_for(handler: Any) -> DependencyPlan:
    """The plan of the route FastAPI built ``handler`` for (Unplannable: why not)."""
    if _MISSING is not None:  # pragma: no cover - another FastAPI
        raise Unplannable(_MISSING)
    parts = _fastapi_handler_parts(handler)
    return DependencyPlan.build(parts["dependant"])


def planned(handler: Handler) -> Handler:
    """``handler`` (FastAPI's, for one route) solving its dependencies from a plan, or
    ``handler`` itself with the reason it is not (``tenantry_dep_plan_fallback``).
    Where FastAPI's handler would only take its plain path (``lean``), that path."""
    if not enabled():
        return _fallback(handler, f"{ENV}=off")
    try:
        plan = plan_for(handler)
    except Unplannable as exc:
        return _fallback(handler, str(exc))
    copy = _with_plan(handler, plan)
    lean_handler = lean(copy, _fastapi_handler_parts(handler), plan)
    return copy if lean_handler is None else lean_handler


def _with_plan(handler: Handler, plan: DependencyPlan) -> Handler:
    """A copy of FastAPI's handler whose ``solve_dependencies`` is the plan's."""
    fn: Any = handler
    namespace = dict(fn.__globals__)
    namespace["solve_dependencies"] = plan.solve
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    setattr(copy, PLAN_ATTR, plan)
    result: Handler = copy
    return result


# What FastAPI's handler calls on its plain path, from its own module (0.165).
_PLAIN_PATH_NAMES = (
    "AsyncExitStack",
    "DefaultPlaceholder",
    "RequestValidationError",
    "Response",
    "Undefined",
    "_build_response_args",
    "_extract_endpoint_context",
    "_validation_failed",
    "is_body_allowed_for_status_code",
    "serialize_response",
)
LEAN_ATTR = "tenantry_dep_plan_lean"


def lean(fallback: Handler, parts: dict[str, Any], plan: DependencyPlan) -> Handler | None:
    """FastAPI's request handler for a route that takes no body, streams nothing and
    whose endpoint is a coroutine function — the plain path of
    ``fastapi.routing.get_request_handler``'s ``app``, step for step, with what that
    path does for nothing taken out: the four look-ups of FastAPI's native telemetry
    (one is left: a request with telemetry goes to ``fallback``, FastAPI's code), the
    stream and generator checks of the endpoint (known when the route is built), the
    serializer closure made per request, ``run_endpoint_function``'s frame. ``None``
    where the route takes another path (its handler is then ``fallback``)."""
    globals_ = getattr(fallback, "__globals__", {})
    names: dict[str, Any] = {name: globals_.get(name) for name in _PLAIN_PATH_NAMES}
    dependant: Dependant = parts["dependant"]
    call = dependant.call
    if (
        _request_telemetry is None
        or None in names.values()
        or call is None
        or parts["body_field"] is not None
        or parts["is_sse_stream"]
        or parts["is_json_stream"]
        or parts["stream_item_field"] is not None
        or not parts["is_coroutine"]
        or _is_async_gen_callable(call)
        or _is_gen_callable(call)
    ):
        return None
    exit_stack_type = names["AsyncExitStack"]
    default_placeholder = names["DefaultPlaceholder"]
    validation_error_type = names["RequestValidationError"]
    plain_response = names["Response"]
    undefined = names["Undefined"]
    build_response_args = names["_build_response_args"]
    extract_endpoint_context = names["_extract_endpoint_context"]
    validation_failed = names["_validation_failed"]
    body_allowed = names["is_body_allowed_for_status_code"]
    serialize_response = names["serialize_response"]
    solve = plan.solve
    telemetry: Any = _request_telemetry
    path = dependant.path
    status_code = parts["status_code"]
    response_field = parts["response_field"]
    response_class = parts["actual_response_class"]
    dump_json = response_field is not None and isinstance(
        parts["response_class"], default_placeholder
    )
    overrides = parts["dependency_overrides_provider"]
    embed_body_fields = parts["embed_body_fields"]
    serialize: dict[str, Any] = {
        "include": parts["response_model_include"],
        "exclude": parts["response_model_exclude"],
        "by_alias": parts["response_model_by_alias"],
        "exclude_unset": parts["response_model_exclude_unset"],
        "exclude_defaults": parts["response_model_exclude_defaults"],
        "exclude_none": parts["response_model_exclude_none"],
    }

    async def app(request: Request) -> Response:
        if telemetry() is not None:  # FastAPI's native telemetry is on for this request
            return await fallback(request)
        response: Response | None = None
        scope = request.scope
        file_stack = scope.get("fastapi_middleware_astack")
        assert isinstance(file_stack, exit_stack_type), (
            "fastapi_middleware_astack not found in request scope"
        )
        endpoint_ctx = extract_endpoint_context(call)  # call is not None (checked above)
        if path:
            mount_path = scope.get("root_path", "").rstrip("/")
            endpoint_ctx["path"] = f"{request.method} {mount_path}{path}"
        async_exit_stack = scope.get("fastapi_inner_astack")
        assert isinstance(async_exit_stack, exit_stack_type), (
            "fastapi_inner_astack not found in request scope"
        )
        solved = await solve(
            request=request,
            dependant=dependant,
            body=undefined,
            dependency_overrides_provider=overrides,
            async_exit_stack=async_exit_stack,
            embed_body_fields=embed_body_fields,
        )
        errors = solved.errors
        if not errors:
            raw_response = await call(**solved.values)
            if isinstance(raw_response, Response):
                if raw_response.background is None:
                    raw_response.background = solved.background_tasks
                response = raw_response
            else:
                response_args = build_response_args(status_code=status_code, solved_result=solved)
                content = await serialize_response(
                    field=response_field,
                    response_content=raw_response,
                    is_coroutine=True,
                    endpoint_ctx=endpoint_ctx,
                    dump_json=dump_json,
                    **serialize,
                )
                if dump_json:
                    response = plain_response(
                        content=content, media_type="application/json", **response_args
                    )
                else:
                    response = response_class(content, **response_args)
                if not body_allowed(response.status_code):
                    response.body = b""
                response.headers.raw.extend(solved.response.headers.raw)
        if errors:
            validation_error = validation_error_type(errors, body=None, endpoint_ctx=endpoint_ctx)
            validation_failed(validation_error)
            raise validation_error
        assert response
        return response

    app.__qualname__ = fallback.__qualname__
    app.__module__ = __name__
    setattr(app, PLAN_ATTR, plan)
    setattr(app, LEAN_ATTR, True)
    return app


def _fallback(handler: Handler, reason: str) -> Handler:
    with contextlib.suppress(AttributeError, TypeError):  # not a plain function
        setattr(handler, FALLBACK_ATTR, reason)
    return handler

"""The dependency plan (tenantry.kit.dep_plan) solves a route's dependencies exactly as
FastAPI's ``solve_dependencies`` does: the same routes are served twice, by an app whose
handlers use the plan and by one whose handlers are FastAPI's own, and every request is
sent to both: same status, body (422 bodies included), headers and cookies, and the same
log of dependency calls, cache hits, generator teardowns and background tasks.

No database: these routes are FastAPI's alone (the app's own routes, with real requests
on a real database, are ``tests/integration/test_dep_plan_routes.py``)."""

# No ``from __future__ import annotations``: the routes below are built inside a function,
# and FastAPI must see their real annotations (which name local dependencies).

import asyncio
import datetime
import enum
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import fastapi.dependencies.utils as fastapi_utils
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Cookie,
    Depends,
    FastAPI,
    Header,
    Path,
    Query,
    Request,
    Response,
    Security,
)
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from fastapi.testclient import TestClient
from pydantic import AliasChoices, BaseModel, Field

from tenantry.kit import dep_plan
from tests.helpers import fastapi_own_handlers, served_handlers


class PlannedRoute(APIRoute):
    def get_route_handler(self) -> Any:
        return dep_plan.planned(super().get_route_handler())


class Color(enum.Enum):
    red = "red"
    blue = "blue"


class Filters(BaseModel):
    q: str | None = None
    size: int = Field(10, ge=1, le=50)


class Item(BaseModel):
    name: str = Field(min_length=2)
    price: int = Field(gt=0)
    tags: list[str] = []


def build(route_class: type[APIRoute], log: list[Any]) -> FastAPI:
    """The same routes, whatever the route class (``log`` records what ran)."""
    router = APIRouter(route_class=route_class)

    async def leaf(request: Request) -> str:
        log.append(("leaf", request.url.path))
        return "leaf"

    def sync_leaf(x: Annotated[int, Query()] = 0) -> int:
        log.append(("sync_leaf", x))
        return x * 2

    async def middle(
        a: Annotated[str, Depends(leaf)], b: Annotated[int, Depends(sync_leaf)]
    ) -> str:
        log.append(("middle", a, b))
        return f"{a}-{b}"

    async def uncached(a: Annotated[str, Depends(leaf, use_cache=False)]) -> str:
        log.append(("uncached", a))
        return a

    async def with_response(response: Response, background: BackgroundTasks) -> str:
        response.headers["x-from-dependency"] = "yes"
        response.set_cookie("dep-cookie", "v1")
        response.status_code = 202
        background.add_task(log.append, ("background", "dependency"))
        log.append(("with_response",))
        return "r"

    async def picky(limit: Annotated[int, Query(ge=1)] = 5) -> int:
        log.append(("picky", limit))
        return limit

    async def bystander() -> str:
        log.append(("bystander",))
        return "b"

    def sync_gen(x: Annotated[int, Query()] = 0) -> Iterator[str]:
        log.append(("sync_gen", "enter", x))
        try:
            yield "sg"
        finally:
            log.append(("sync_gen", "exit"))

    async def async_gen() -> AsyncIterator[str]:
        log.append(("async_gen", "enter"))
        try:
            yield "ag"
        finally:
            log.append(("async_gen", "exit"))

    async def function_gen() -> AsyncIterator[str]:
        log.append(("function_gen", "enter"))
        yield "fg"
        log.append(("function_gen", "exit"))

    async def refuse(flag: Annotated[str | None, Header()] = None) -> None:
        log.append(("refuse", flag))
        if flag == "no":
            from fastapi import HTTPException

            raise HTTPException(status_code=403, detail="refused")

    @router.get("/params/{item_id}")
    async def params_route(
        item_id: Annotated[int, Path(ge=1)],
        n: int,
        tags: Annotated[list[int], Query()] = [],
        opt: str | None = None,
        color: Color = Color.red,
        aliased: Annotated[str | None, Query(alias="aliased-name")] = None,
        day: datetime.date | None = None,
        flag: bool = False,
        bounded: Annotated[float, Query(gt=0, le=10)] = 1.5,
        text: Annotated[str, Query(min_length=2, max_length=5)] = "ab",
        made: Annotated[list[str], Query(default_factory=lambda: ["x"])] = ...,  # type: ignore[assignment]
        checked: Annotated[int, Query(validate_default=True)] = "3",  # type: ignore[assignment]
        bucket: Annotated[list[str], Query()] = [],
        choice: Annotated[
            str | None, Query(validation_alias=AliasChoices("choice-a", "choice-b"), min_length=2)
        ] = None,
        user_agent: Annotated[str | None, Header()] = None,
        x_token: Annotated[list[str], Header()] = [],
        session: Annotated[str | None, Cookie()] = None,
    ) -> dict[str, Any]:
        bucket.append("seen")  # a default FastAPI copies for every request
        return {
            "bucket": bucket,
            "choice": choice,
            "item_id": item_id, "n": n, "tags": tags, "opt": opt, "color": color.value,
            "aliased": aliased, "day": str(day), "flag": flag, "bounded": bounded,
            "text": text, "made": made, "checked": checked, "ua": user_agent,
            "x_token": x_token, "session": session,
        }  # fmt: skip

    @router.get("/model")
    async def model_route(filters: Annotated[Filters, Query()], other: int = 1) -> dict[str, Any]:
        return {"filters": filters.model_dump(), "other": other}

    @router.post("/body/{item_id}")
    async def body_route(
        item_id: int, item: Item, note: Annotated[str, Body(max_length=4)] = "n"
    ) -> dict[str, Any]:
        return {"item_id": item_id, "item": item.model_dump(), "note": note}

    @router.put("/single")
    async def single_body(item: Item) -> dict[str, Any]:
        return item.model_dump()

    @router.get("/tree", dependencies=[Depends(bystander)])
    async def tree_route(
        m: Annotated[str, Depends(middle)],
        again: Annotated[str, Depends(leaf)],
        u: Annotated[str, Depends(uncached)],
        r: Annotated[str, Depends(with_response)],
        background: BackgroundTasks,
    ) -> dict[str, Any]:
        background.add_task(log.append, ("background", "endpoint"))
        log.append(("endpoint", m, again, u, r))
        return {"m": m, "again": again, "u": u, "r": r}

    @router.get("/errors", dependencies=[Depends(bystander)])
    async def errors_route(
        p: Annotated[int, Depends(picky)],
        m: Annotated[str, Depends(middle)],
        b: Annotated[str, Depends(bystander)],
        own: int,
    ) -> dict[str, Any]:
        log.append(("endpoint",))
        return {"p": p, "m": m, "b": b, "own": own}

    @router.get("/generators")
    async def generators_route(
        s: Annotated[str, Depends(sync_gen)],
        a: Annotated[str, Depends(async_gen)],
        f: Annotated[str, Depends(function_gen, scope="function")],
    ) -> dict[str, str]:
        log.append(("endpoint", s, a, f))
        return {"s": s, "a": a, "f": f}

    @router.get("/refused", dependencies=[Depends(refuse)])
    def refused_route(n: int = 0) -> dict[str, int]:
        log.append(("endpoint", n))
        return {"n": n}

    @router.get("/raw")
    async def raw_route(request: Request) -> Response:
        return Response(content=request.url.query, media_type="text/plain")

    @router.get("/raw-later")  # its own Response, and background tasks to run after it
    async def raw_later_route(background: BackgroundTasks) -> Response:
        background.add_task(log.append, ("background", "raw"))
        return Response(content="raw", media_type="text/plain")

    @router.get("/no-content", status_code=204, response_model=None)  # no body allowed
    async def no_content_route(n: int = 0) -> dict[str, int]:
        return {"n": n}

    def scoped(scopes: SecurityScopes) -> list[str]:
        return scopes.scopes

    @router.get("/scoped")
    async def scoped_route(s: Annotated[list[str], Security(scoped, scopes=["read"])]) -> list[str]:
        return s

    app = FastAPI()
    app.include_router(router)
    return app


FULL = (
    "/params/3?n=1&tags=1&tags=2&opt=o&color=blue&aliased-name=al&day=2026-12-01"
    "&flag=yes&bounded=9.5&text=abcd&made=m1&made=m2&checked=4&choice-b=cb"
)
BAD = "/params/0?n=x&tags=a&tags=2&color=green&day=2026-13-01&flag=maybe&bounded=0&text=a&checked=z"
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/params/3?n=1", {}),
    ("GET", FULL, {}),
    ("GET", "/params/3?n=1&aliased=ignored&made=", {}),
    ("GET", "/params/3?n=1&choice-a=ca&choice-b=cb", {}),
    ("GET", "/params/3?n=1&choice-b=c", {}),
    ("GET", BAD, {}),
    ("GET", "/params/abc", {}),
    ("GET", "/params/3", {"headers": {"user-agent": "ua", "x-token": "t1"}}),
    ("GET", "/params/3?n=2", {"headers": {"x-token": "t2"}, "cookies": {"session": "c"}}),
    ("GET", "/params/3?n=2&text=toolongtext", {}),
    ("GET", "/model", {}),
    ("GET", "/model?q=a&size=7&other=2", {}),
    ("GET", "/model?size=0&other=x", {}),
    ("GET", "/model?size=51&extra=1", {}),
    ("POST", "/body/1", {"json": {"item": {"name": "ab", "price": 3}, "note": "abc"}}),
    ("POST", "/body/1", {"json": {"item": {"name": "a", "price": 0}, "note": "toolong"}}),
    ("POST", "/body/x", {"json": {}}),
    ("POST", "/body/1", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("POST", "/body/1", {"json": []}),
    ("POST", "/body/1", {}),
    ("PUT", "/single", {"json": {"name": "abc", "price": 5, "tags": ["t"]}}),
    ("PUT", "/single", {"json": {"name": "abc"}}),
    ("PUT", "/single", {"json": "text"}),
    ("GET", "/tree?x=2", {}),
    ("GET", "/tree?x=bad", {}),
    ("GET", "/errors?own=1&limit=2&x=1", {}),
    ("GET", "/errors?own=1&limit=0&x=1", {}),
    ("GET", "/errors?limit=0&x=bad", {}),
    ("GET", "/errors", {}),
    ("GET", "/generators?x=1", {}),
    ("GET", "/generators?x=no", {}),
    ("GET", "/refused?n=1", {}),
    ("GET", "/refused?n=1", {"headers": {"flag": "no"}}),
    ("GET", "/refused?n=bad", {"headers": {"flag": "no"}}),
    ("GET", "/raw?a=1&b=2", {}),
    ("GET", "/raw-later", {}),
    ("GET", "/no-content?n=1", {}),
    ("GET", "/no-content?n=x", {}),
    ("GET", "/scoped", {}),
]


def _serve(app: FastAPI, log: list[Any], method: str, url: str, kw: dict[str, Any]) -> Any:
    log.clear()
    cookies = kw.pop("cookies", None)
    with TestClient(app, raise_server_exceptions=False, cookies=cookies) as client:
        response = client.request(method, url, **kw)
    if cookies is not None:
        kw["cookies"] = cookies
    headers = sorted((k, v) for k, v in response.headers.items() if k != "date")
    return response.status_code, response.content, headers, list(log)


@pytest.fixture(scope="module")
def apps() -> tuple[tuple[FastAPI, list[Any]], tuple[FastAPI, list[Any]]]:
    plan_log: list[Any] = []
    own_log: list[Any] = []
    with fastapi_own_handlers():  # not Sentry's wrapper, if a test started the SDK
        planned, own = build(PlannedRoute, plan_log), build(APIRoute, own_log)
        served_handlers(planned), served_handlers(own)
    return (planned, plan_log), (own, own_log)


def _handler(app: FastAPI, path: str, method: str = "GET") -> Any:
    for label, _, handler in served_handlers(app):
        methods, route_path = label.split(" ", 1)
        if route_path == path and method in methods.split(","):
            return handler
    raise LookupError(path)


PLANNED_PATHS = [
    ("GET", "/params/{item_id}"), ("GET", "/model"), ("POST", "/body/{item_id}"),
    ("PUT", "/single"), ("GET", "/tree"), ("GET", "/errors"), ("GET", "/generators"),
    ("GET", "/refused"), ("GET", "/raw"),
]  # fmt: skip


def test_the_crafted_routes_are_planned_except_security_scopes(apps: Any) -> None:
    (planned_app, _), (own_app, _) = apps
    for method, path in PLANNED_PATHS:
        handler = _handler(planned_app, path, method)
        assert isinstance(getattr(handler, dep_plan.PLAN_ATTR, None), dep_plan.DependencyPlan), path
        assert not hasattr(_handler(own_app, path, method), dep_plan.PLAN_ATTR)
    scoped = _handler(planned_app, "/scoped")
    assert not hasattr(scoped, dep_plan.PLAN_ATTR)
    assert "security scopes" in getattr(scoped, dep_plan.FALLBACK_ATTR)


@pytest.mark.parametrize(
    ("method", "url", "kw"), REQUESTS, ids=[f"{m} {u}" for m, u, _ in REQUESTS]
)
def test_every_request_is_answered_as_fastapi_answers_it(
    apps: Any, method: str, url: str, kw: dict[str, Any]
) -> None:
    (planned_app, plan_log), (own_app, own_log) = apps
    planned = _serve(planned_app, plan_log, method, url, kw)
    own = _serve(own_app, own_log, method, url, kw)
    assert planned[0] == own[0]
    assert planned[1] == own[1]
    assert planned[2] == own[2]
    assert planned[3] == own[3]


def test_the_comparison_sees_what_the_routes_do(apps: Any) -> None:
    """The pairs above compare real work: call order, cache, 422s, headers, teardowns."""
    (planned_app, plan_log), _ = apps
    status, body, headers, log = _serve(planned_app, plan_log, "GET", "/tree?x=2", {})
    assert status == 202
    assert ("x-from-dependency", "yes") in headers
    assert any(k == "set-cookie" and v.startswith("dep-cookie=v1") for k, v in headers)
    assert log == [
        ("bystander",),
        ("leaf", "/tree"),
        ("sync_leaf", 2),
        ("middle", "leaf", 4),
        ("leaf", "/tree"),  # use_cache=False: called again; the cached ``leaf`` was not
        ("uncached", "leaf"),
        ("with_response",),
        ("endpoint", "leaf-4", "leaf", "leaf", "r"),
        ("background", "dependency"),
        ("background", "endpoint"),
    ]
    status, body, _, log = _serve(planned_app, plan_log, "GET", "/errors?limit=0&x=bad", {})
    assert status == 422
    locs = [e["loc"] for e in __import__("json").loads(body)["detail"]]
    assert locs == [["query", "limit"], ["query", "x"], ["query", "own"]]
    # A failed dependency is not called; its siblings (and the cached bystander) still are.
    assert log == [("bystander",), ("leaf", "/errors")]
    _, _, _, log = _serve(planned_app, plan_log, "GET", "/generators?x=1", {})
    assert log == [
        ("sync_gen", "enter", 1), ("async_gen", "enter"), ("function_gen", "enter"),
        ("endpoint", "sg", "ag", "fg"), ("function_gen", "exit"), ("async_gen", "exit"),
        ("sync_gen", "exit"),
    ]  # fmt: skip


def test_the_plan_does_not_call_fastapis_parameter_reader(
    apps: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planned app does not go through FastAPI's solver (which reads every
    parameter with ``request_params_to_args``): only a parameter model does."""
    (planned_app, plan_log), (own_app, own_log) = apps
    calls: list[int] = []
    original = fastapi_utils.request_params_to_args

    def counting(fields: Any, received: Any) -> Any:
        calls.append(len(fields))
        return original(fields, received)

    monkeypatch.setattr(fastapi_utils, "request_params_to_args", counting)
    _serve(planned_app, plan_log, "GET", "/params/3?n=1", {})
    assert calls == []
    _serve(planned_app, plan_log, "GET", "/model?size=3", {})
    assert calls == [1]  # the parameter model, through FastAPI's own reader
    calls.clear()
    _serve(own_app, own_log, "GET", "/params/3?n=1", {})
    assert calls  # FastAPI's solver does call it (so the check above can fail)


def test_dependency_overrides_take_fastapis_own_path(apps: Any) -> None:
    (planned_app, plan_log), _ = apps
    leaf = next(
        d.call
        for rc in __import__("fastapi.routing").routing.iter_route_contexts(planned_app.routes)
        if rc.path == "/tree"
        for d in rc.dependant.dependencies
        if d.name == "again"
    )
    planned_app.dependency_overrides[leaf] = lambda: "overridden"
    try:
        status, body, _, _ = _serve(planned_app, plan_log, "GET", "/tree?x=2", {})
    finally:
        planned_app.dependency_overrides.clear()
    assert status == 202
    assert __import__("json").loads(body)["again"] == "overridden"
    _, body, _, _ = _serve(planned_app, plan_log, "GET", "/tree?x=2", {})
    assert __import__("json").loads(body)["again"] == "leaf"


def test_the_switch_and_foreign_handlers_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[Any] = []
    monkeypatch.setenv(dep_plan.ENV, "off")
    with fastapi_own_handlers():
        app = build(PlannedRoute, log)
        handler = _handler(app, "/tree")
    assert not hasattr(handler, dep_plan.PLAN_ATTR)
    assert getattr(handler, dep_plan.FALLBACK_ATTR) == f"{dep_plan.ENV}=off"
    monkeypatch.delenv(dep_plan.ENV)

    async def wrapped(request: Request) -> Any:  # another integration's wrapper
        return await handler(request)

    assert dep_plan.planned(wrapped) is wrapped
    assert "not FastAPI's own request handler" in getattr(wrapped, dep_plan.FALLBACK_ATTR)
    planned = dep_plan.planned(handler)
    assert isinstance(getattr(planned, dep_plan.PLAN_ATTR), dep_plan.DependencyPlan)


def test_a_request_the_plan_was_not_built_for_goes_to_fastapi(apps: Any) -> None:
    """Asked for another dependant (never by FastAPI's handler), the plan hands over."""
    (planned_app, _), _ = apps
    plan = getattr(_handler(planned_app, "/raw"), dep_plan.PLAN_ATTR)
    other = getattr(_handler(planned_app, "/model"), dep_plan.PLAN_ATTR)
    from contextlib import AsyncExitStack

    async def run() -> Any:
        async with AsyncExitStack() as stack:
            scope = {
                "type": "http", "method": "GET", "path": "/model", "query_string": b"size=0",
                "headers": [], "fastapi_inner_astack": stack, "fastapi_function_astack": stack,
            }  # fmt: skip
            return await plan.solve(
                request=Request(scope), dependant=other.root, body=None,
                dependency_overrides_provider=None, async_exit_stack=stack,
                embed_body_fields=False,
            )  # fmt: skip

    solved = asyncio.run(run())
    assert [e["loc"] for e in solved.errors] == [("query", "size")]


LEAN_PATHS = [
    ("GET", "/params/{item_id}"), ("GET", "/model"), ("GET", "/tree"), ("GET", "/errors"),
    ("GET", "/generators"), ("GET", "/raw"), ("GET", "/raw-later"), ("GET", "/no-content"),
]  # fmt: skip


def test_routes_with_no_body_and_a_coroutine_endpoint_take_the_lean_handler(apps: Any) -> None:
    """The requests above went through it (session 12): FastAPI's plain path without
    the per-request work that does nothing there; a body or a sync endpoint (FastAPI
    validates its answer in a thread) keeps FastAPI's handler, with the plan."""
    (planned_app, _), _ = apps
    for method, path in LEAN_PATHS:
        assert getattr(_handler(planned_app, path, method), dep_plan.LEAN_ATTR, False), path
    for method, path in (("POST", "/body/{item_id}"), ("PUT", "/single"), ("GET", "/refused")):
        handler = _handler(planned_app, path, method)
        assert not hasattr(handler, dep_plan.LEAN_ATTR), path
        assert isinstance(getattr(handler, dep_plan.PLAN_ATTR), dep_plan.DependencyPlan)


def test_with_fastapis_native_telemetry_the_lean_handler_hands_over(apps: Any) -> None:
    """A request FastAPI records native telemetry for is served by FastAPI's handler
    (with the plan), which feeds that telemetry."""
    (planned_app, plan_log), (own_app, own_log) = apps
    handler = _handler(planned_app, "/tree")
    cells = dict(zip(handler.__code__.co_freevars, handler.__closure__, strict=True))
    telemetry, fallback = cells["telemetry"].cell_contents, cells["fallback"].cell_contents
    handed: list[str] = []

    async def recording(request: Request) -> Any:
        handed.append(request.url.path)
        return await fallback(request)

    cells["telemetry"].cell_contents = lambda: object()  # as if FastAPI recorded some
    cells["fallback"].cell_contents = recording
    try:
        answer = _serve(planned_app, plan_log, "GET", "/tree?x=1", {})
    finally:
        cells["telemetry"].cell_contents = telemetry
        cells["fallback"].cell_contents = fallback
    assert answer == _serve(own_app, own_log, "GET", "/tree?x=1", {})
    assert handed == ["/tree"]
    assert not hasattr(fallback, dep_plan.LEAN_ATTR)
    assert isinstance(getattr(fallback, dep_plan.PLAN_ATTR), dep_plan.DependencyPlan)

"""The route index (tenantry.kit.route_index) finds exactly the route FastAPI's own
matching finds, for every route of the app and for paths that match none."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette.routing import Match

from tenantry.isolation.scopes import iter_api_routes
from tenantry.kit.route_index import RootDispatch, index_routes, path_head

SAMPLE = "0f0e0d0c-0000-4000-8000-000000000001"


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}


def _resolve(app: FastAPI, method: str, path: str, *, indexed: bool) -> tuple[Any, Any]:
    """(match kind, route) the app's router would hand the request to; with
    ``indexed=False`` through FastAPI's own ``_IncludedRouter`` methods."""
    partial = None
    for node in app.router.routes:
        scope = _scope(method, path)
        if isinstance(node, _IncludedRouter):
            matches = node.matches if indexed else (lambda s, n=node: _IncludedRouter.matches(n, s))
            match, _ = matches(scope)
            if match == Match.NONE:
                continue
            found = node._match(scope) if indexed else _IncludedRouter._match(node, scope)
            result = (found[0], found[2])
        else:
            match, _ = node.matches(scope)
            if match == Match.NONE:
                continue
            result = (match, node)
        if result[0] == Match.FULL:
            return result
        partial = partial or result
    return partial or (Match.NONE, None)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", SAMPLE, path)


def test_every_route_resolves_as_fastapi_resolves_it(app: FastAPI) -> None:
    indexed = [n for n in app.router.routes if isinstance(n, _IncludedRouter)]
    assert sum(1 for n in indexed if getattr(n, "prefixes", None)) >= 40, "routers not indexed"
    paths = {_concrete(p) for _, p in iter_api_routes(app)}
    paths |= {"/nope", "/api/admin/bookingsx", "/api/adminx/bookings", "/api/admin/", ""}
    paths |= {p + "/" for p in list(paths)} | {p + "/extra" for p in list(paths)}
    checked = 0
    for path in sorted(paths):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            fast = _resolve(app, method, path, indexed=True)
            plain = _resolve(app, method, path, indexed=False)
            assert fast[0] == plain[0], (method, path)
            assert fast[1] is plain[1], (method, path, fast, plain)
            checked += fast[0] != Match.NONE
    assert checked > 150  # the loop did compare real routes


def test_indexing_twice_changes_nothing(app: FastAPI) -> None:
    assert index_routes(app) == 0  # create_app already swapped every node


def test_a_route_added_later_outside_the_prefix_is_still_found() -> None:
    from tenantry.routing import public_router

    router = public_router()

    @router.get("/api/zz-a/one")
    def one() -> dict[str, str]:
        return {}

    late = FastAPI()
    late.include_router(router)
    assert index_routes(late) == 1
    node = late.router.routes[-1]
    assert node.prefixes == ("/api/zz-a/one",)
    assert node.matches(_scope("GET", "/api/zz-a/one"))[0] == Match.FULL
    assert node.matches(_scope("GET", "/api/zz-b/two"))[0] == Match.NONE

    @router.get("/api/zz-b/two")  # not under the prefix the node computed first
    def two() -> dict[str, str]:
        return {}

    # The router's routes changed: the node recomputes its prefix before matching.
    assert node.matches(_scope("GET", "/api/zz-b/two"))[0] == Match.FULL
    assert node.prefixes == ("/api/zz-a/one", "/api/zz-b/two")


# --- the root dispatch (session 12) ---------------------------------------------------


def _every_path(app: FastAPI) -> list[str]:
    paths = {_concrete(p) for _, p in iter_api_routes(app)}
    paths |= {"/nope", "/api/admin/bookingsx", "/api/adminx/bookings", "/api/admin/", "", "/"}
    paths |= {"/api", "/api/", "/api/admin", "//", "///x", "/api//admin/x", "x/y/z"}
    paths |= {"/openapi.json", "/docs", "/static/app.css", "/metrics", "/login", "/app/x"}
    return sorted(paths | {p + "/" for p in list(paths)} | {p + "/extra" for p in list(paths)})


def test_the_root_dispatch_skips_only_nodes_that_cannot_match(app: FastAPI) -> None:
    """Every node the dispatch leaves out of a path's candidates answers "no match" to
    FastAPI's own matching, for every method; the candidates keep the root's order."""
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, RootDispatch)
    order = {id(node): i for i, node in enumerate(app.router.routes)}
    skipped_somewhere = 0
    for path in _every_path(app):
        candidates = dispatch.candidates(path)
        positions = [order[id(node)] for node in candidates]
        assert positions == sorted(positions), path
        asked = {id(node) for node in candidates}
        for node in app.router.routes:
            if id(node) in asked:
                continue
            skipped_somewhere += 1
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                scope = _scope(method, path)
                plain = (
                    _IncludedRouter.matches(node, scope)
                    if isinstance(node, _IncludedRouter)
                    else node.matches(scope)
                )
                assert plain[0] == Match.NONE, (method, path, node)
    # the read's path asks a handful of nodes, not the 19 FastAPI's loop asked
    read = dispatch.candidates("/api/admin/bookings/" + SAMPLE)
    assert len(read) <= 3, read
    assert skipped_somewhere > 1000  # the check above did look at skipped nodes


def test_requests_through_the_dispatch_are_answered_as_without_it(app: FastAPI) -> None:
    """Same status, body and headers (request ids aside) with the dispatch and with
    FastAPI's own loop: a match, a 404, a 405, a refusal, a 422 and OpenAPI."""
    from fastapi.testclient import TestClient

    router: Any = app.router
    dispatch = router.middleware_stack
    assert isinstance(dispatch, RootDispatch)
    requests = [
        ("GET", "/healthz"),
        ("GET", "/nope"),
        ("GET", "/api/admin/bookings/"),
        ("GET", "/api/admin/bookings/" + SAMPLE),
        ("GET", "/api/admin/bookings/not-a-uuid"),
        ("DELETE", "/healthz"),
        ("POST", "/api/admin/bookings/stats"),
        ("GET", "/openapi.json"),
        ("GET", "/api/auth/me"),
    ]

    def answers() -> list[tuple[int, bytes, list[tuple[str, str]]]]:
        out = []
        with TestClient(app) as client:
            for method, path in requests:
                response = client.request(method, path)
                body = re.sub(rb'"request_id":"[^"]*"', b"", response.content)
                headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
                out.append((response.status_code, body, headers))
        return out

    with_dispatch = answers()
    router.middleware_stack = dispatch.full
    try:
        without = answers()
    finally:
        router.middleware_stack = dispatch
    assert with_dispatch == without
    assert {status for status, _, _ in without} >= {200, 401, 404, 405}


def test_a_route_added_later_under_a_new_head_is_found_through_the_dispatch() -> None:
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    router = APIRouter()  # a plain router: no unit of work, no database

    @router.get("/api/zz-a/one")
    def one() -> dict[str, str]:
        return {"one": "1"}

    late = FastAPI()
    late.include_router(router)
    index_routes(late)
    dispatch = late.router.middleware_stack
    assert isinstance(dispatch, RootDispatch)
    node = late.router.routes[-1]
    assert node not in dispatch.candidates("/api/zz-b/two")

    @router.get("/api/zz-b/two")  # a head the table did not file this router under
    def two() -> dict[str, str]:
        return {"two": "2"}

    assert node in dispatch.candidates("/api/zz-b/two")
    with TestClient(late) as client:
        assert client.get("/api/zz-b/two").json() == {"two": "2"}
        assert client.get("/api/zz-a/one").json() == {"one": "1"}
        assert client.get("/api/zz-c/three").status_code == 404


def test_the_path_head_is_the_path_up_to_its_third_slash() -> None:
    assert path_head("/api/admin/bookings/1") == "/api/admin/"
    assert path_head("/api/admin/") == "/api/admin/"
    assert path_head("/api/admin") is None
    assert path_head("/healthz") is None
    assert path_head("") is None
    assert path_head("//x/") == "//x/"

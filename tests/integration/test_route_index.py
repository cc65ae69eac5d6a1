"""The route index (tenantry.kit.route_index) finds exactly the route FastAPI's own
matching finds, for every route of the app and for paths that match none."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from starlette.routing import Match

from tenantry.isolation.scopes import iter_api_routes
from tenantry.kit.route_index import index_routes

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

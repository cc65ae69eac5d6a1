"""Route matching without scanning every route of every router, twice.

FastAPI (≥ 0.120) keeps each ``include_router`` as one node of the app's route list.
To find a request's route it asks every node in turn, and a node answers by trying
the regular expression of each of its routes; the node that matches is then asked
again (``_handle_selected`` repeats the match). With ~45 routers and ~150 routes, a
request for a route in the middle of the list ran ~100 regular expressions — the
largest single item of a request's CPU time in ``bench/api_throughput``'s profile.

``index_routes(app)`` swaps each included-router node for one that

* answers "no match" at once when the path starts with none of its routes' literal
  prefixes (the part of a route path before its first ``{param}``: a route's compiled
  pattern can only match paths that start with its literal part, so no path this
  skips could have matched) — one ``str.startswith`` with a tuple, and
* remembers its own answer for the request, so the second ask costs nothing.

Which route wins is unchanged: the nodes are still asked in order, and a node that
could match is asked exactly as before. ``tests/unit/test_route_index.py`` resolves
every route of the app both ways. If FastAPI's internals are not the ones this was
written for, the app is left as it is (slower, same behaviour).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

try:  # FastAPI's included-router node (private; present since 0.120)
    from fastapi.routing import APIRoute, _EffectiveRouteContext, _IncludedRouter
except ImportError:  # pragma: no cover - older or newer FastAPI: nothing to index
    _IncludedRouter = None  # type: ignore[assignment,misc]

_MEMO_KEY = "tenantry.route_match"


def _literal_part(path: str) -> str:
    return path.split("{", 1)[0]


def route_prefixes(node: Any) -> tuple[str, ...] | None:
    """The literal prefix of each route under ``node`` (``None``: a route of a kind
    this does not read, so no path can be ruled out)."""
    parts: set[str] = set()
    for candidate in node.effective_candidates():
        if isinstance(candidate, _EffectiveRouteContext) and isinstance(
            candidate.original_route, APIRoute
        ):
            parts.add(_literal_part(candidate.path_format or candidate.path))
        elif isinstance(candidate, _EffectiveRouteContext) and isinstance(
            candidate.starlette_route, Route
        ):
            parts.add(_literal_part(candidate.starlette_route.path))
        else:  # a nested router, mount, host, websocket or anything else: do not guess
            return None
    return tuple(sorted(parts))


if _IncludedRouter is not None:

    class _IndexedRouter(_IncludedRouter):
        prefixes: tuple[str, ...] | None = None
        indexed_at: int | None = None  # the router's routes version the prefixes are of

        def refresh(self) -> None:
            self.indexed_at = self.original_router._routes_version
            self.prefixes = route_prefixes(self)

        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            if self.indexed_at != self.original_router._routes_version:
                self.refresh()  # a route was added to the router since
            prefixes = self.prefixes
            if prefixes is not None and not get_route_path(scope).startswith(prefixes):
                return Match.NONE, {}
            result: tuple[Match, Scope] = super().matches(scope)
            return result

        def _match(self, scope: Scope) -> Any:
            key = (id(self), scope.get("method"), get_route_path(scope))
            memo = scope.get(_MEMO_KEY)
            if memo is not None and memo[0] == key:
                del scope[_MEMO_KEY]  # the second ask of this request: answered once
                return memo[1]
            found = super()._match(scope)
            if found[0] != Match.NONE:
                scope[_MEMO_KEY] = (key, found)
            return found

else:  # pragma: no cover
    _IndexedRouter = None  # type: ignore[assignment,misc]


def index_routes(app: FastAPI) -> int:
    """Swap the app's included-router nodes for indexed ones; how many were swapped.
    Call once every router is included (a route added to an indexed router later
    makes its node recompute its prefix; a router included later is not indexed)."""
    if _IndexedRouter is None:  # pragma: no cover
        return 0
    routes: list[BaseRoute] = app.router.routes
    swapped = 0
    for i, route in enumerate(routes):
        if type(route) is not _IncludedRouter:
            continue
        node = _IndexedRouter(original_router=route.original_router,
                              include_context=route.include_context)  # fmt: skip
        node.refresh()
        routes[i] = node
        swapped += 1
    return swapped

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
could match is asked exactly as before. ``tests/integration/test_route_index.py``
resolves every route of the app both ways. If FastAPI's internals are not the ones this
was written for, the app is left as it is (slower, same behaviour).

``RootDispatch`` (session 12) takes the same rule one level up. The root router still
asked every node in turn until one matched — a Python call per node (a read of
``/api/admin/bookings/{id}`` asked 18 nodes "no" before the 19th said yes). The
dispatch groups the nodes by the *head* of their prefixes (the path up to its third
``/``, e.g. ``/api/admin/``): a path can only start with a prefix of three or more
slashes if its own head is that prefix's head. For a request it asks, in the root's
order, only the nodes filed under the path's head plus every node it cannot rule out
(prefixes shorter than a head, nodes that are not indexed routers, nodes whose
prefixes are unknown). The first full match is handled exactly as FastAPI's loop
handles it; anything else (no candidate matched fully: a 404, a 405, a redirect, a
low-priority route, a websocket, the lifespan) goes to FastAPI's own loop, unchanged.
The table is rebuilt when the root's routes or any indexed router's routes change.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

try:  # FastAPI's included-router node (private; present since 0.120)
    from fastapi.routing import APIRoute, _EffectiveRouteContext, _IncludedRouter
except ImportError:  # pragma: no cover - older or newer FastAPI: nothing to index
    _IncludedRouter = None  # type: ignore[assignment,misc]
try:  # what FastAPI's root loop does with a full match (private; 0.165)
    from fastapi.routing import _apply_router_form_limits, _update_scope
    from fastapi.telemetry._api import _route_selected
except ImportError:  # pragma: no cover - another FastAPI: no root dispatch
    _update_scope = None  # type: ignore[assignment]

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


def path_head(path: str) -> str | None:
    """The path up to and including its third ``/`` (``/api/admin/`` of
    ``/api/admin/bookings/1``); ``None`` when it has fewer. A path that starts with a
    prefix that has a head has that same head."""
    i = path.find("/")
    if i >= 0:
        i = path.find("/", i + 1)
    if i >= 0:
        i = path.find("/", i + 1)
    return path[: i + 1] if i >= 0 else None


# Bumped whenever a router the dispatch filed changes its routes (see _watch).
_generation = [0]


def _watch(router: Any) -> None:
    """Bump ``_generation`` whenever ``router`` marks its routes changed (FastAPI calls
    ``_mark_routes_changed`` on every route or router added), so a dispatch table
    filed from its old prefixes is rebuilt before it is used again."""
    if getattr(router, "_tenantry_watched", False):
        return
    marked = router._mark_routes_changed

    def mark_routes_changed() -> None:
        marked()
        _generation[0] += 1

    router._mark_routes_changed = mark_routes_changed
    router._tenantry_watched = True


_Entry = tuple[BaseRoute, tuple[str, ...] | None]  # a node and its prefixes (None: any)


class RootDispatch:
    """The root router's ``middleware_stack``: asks only the nodes a path could match
    (see the module's docstring), else runs FastAPI's own loop (``full``)."""

    def __init__(self, router: Any, full: ASGIApp) -> None:
        self.router = router
        self.full = full
        self._stamp: tuple[int, int, int] | None = None
        self._by_head: dict[str, tuple[_Entry, ...]] = {}
        self._others: tuple[_Entry, ...] = ()

    def _current(self) -> tuple[int, int, int]:
        return (_generation[0], self.router._routes_version, len(self.router.routes))

    def rebuild(self) -> None:
        entries: list[_Entry] = []
        heads: dict[str, set[int]] = {}
        always: set[int] = set()
        for i, node in enumerate(self.router.routes):
            prefixes = None
            if _IndexedRouter is not None and type(node) is _IndexedRouter:
                _watch(node.original_router)
                if node.indexed_at != node.original_router._routes_version:
                    node.refresh()
                prefixes = node.prefixes
            entries.append((node, prefixes))
            node_heads = [path_head(p) for p in prefixes] if prefixes is not None else [None]
            if None in node_heads:
                always.add(i)  # cannot be ruled out by a head: asked for every path
                continue
            for head in node_heads:
                heads.setdefault(str(head), set()).add(i)
        self._by_head = {
            head: tuple(entries[i] for i in sorted(found | always)) for head, found in heads.items()
        }
        self._others = tuple(entries[i] for i in sorted(always))
        self._stamp = self._current()

    def candidates(self, path: str) -> list[BaseRoute]:
        """The root's nodes that could match ``path``, in the root's order: those filed
        under its head (or that no head rules out) whose prefixes it starts with — the
        test each indexed node's own ``matches`` makes first."""
        if self._stamp != self._current():
            self.rebuild()
        head = path_head(path)
        entries = self._others if head is None else self._by_head.get(head, self._others)
        return [node for node, pre in entries if pre is None or path.startswith(pre)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.full(scope, receive, send)
            return
        router = self.router
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                # FastAPI's APIRouter.app for a full match, step for step.
                _apply_router_form_limits(scope, router.form_limits)
                if "router" not in scope:
                    scope["router"] = router
                _update_scope(scope, child_scope)
                _route_selected(
                    scope=scope,
                    path=getattr(route, "path_format", None),
                    mount=isinstance(route, Mount),
                )
                await route.handle(scope, receive, send)
                return
        await self.full(scope, receive, send)  # no full match: FastAPI decides


def dispatch_root(app: FastAPI) -> RootDispatch | None:
    """Put a ``RootDispatch`` in front of the app's root loop (``None``: not done —
    another FastAPI, or the root router already has middleware of its own)."""
    router: Any = app.router
    if _update_scope is None or _IndexedRouter is None:  # pragma: no cover
        return None
    if isinstance(router.middleware_stack, RootDispatch):
        return router.middleware_stack
    if router.middleware_stack != router.app:  # a router middleware or body limit
        return None
    dispatch = RootDispatch(router, router.middleware_stack)
    dispatch.rebuild()
    router.middleware_stack = dispatch
    return dispatch


def index_routes(app: FastAPI) -> int:
    """Swap the app's included-router nodes for indexed ones; how many were swapped.
    Call once every router is included (a route added to an indexed router later
    makes its node recompute its prefix; a router included later is not indexed).
    Then puts the root dispatch in front (``dispatch_root``)."""
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
    dispatch_root(app)
    return swapped

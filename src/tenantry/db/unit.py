"""One unit of work per request: one session, one connection checkout, one transaction.

A tenant request used to run its access check (session row, session version, tenant
status, membership) in a session and transaction of its own, then the endpoint's work
in a second one, each in its own worker thread. Now the request has ONE
``RequestUnit``:

- the route handler creates it before any dependency runs (``unit_handler``) and, on
  an error path that left it open (a refusal after the check, a 422, a 429), rolls it
  back and closes it;
- ``require_tenant`` runs the access check as the first statement of the unit's
  transaction, whose ``BEGIN`` already carries the tenant pin (``tenantry.db.dialect``);
- ``TenantSession`` hands the endpoint the same session (no I/O, no thread hop);
- the endpoint runs through ``unit_endpoint``: a sync endpoint and the commit run in
  ONE worker thread, and the result goes back only after the commit, so a client never
  gets a 2xx for a write that then failed to commit. FastAPI sees a coroutine and
  validates the response on the event loop (no second hop).

A route built without these hooks cannot use ``TenantSession``: ``current_unit``
raises (fail closed) instead of handing out a session nobody would commit.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tenantry.isolation.scopes import RouteHooks

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_current: contextvars.ContextVar[RequestUnit | None] = contextvars.ContextVar(
    "tenantry_request_unit", default=None
)


class NoRequestUnit(RuntimeError):
    """A route asked for the request's session without being built to commit it."""


class RequestUnit:
    """The request's one session (created on first use; the connection is checked out
    when its first statement runs, and held until ``finish``/``abort``)."""

    __slots__ = ("_factory", "_session")

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._factory = session_factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._factory()
        return self._session

    @property
    def open(self) -> bool:
        return self._session is not None

    def finish(self) -> None:
        """Commit and give the connection back (nothing to do if no session was made)."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            session.commit()
        finally:
            session.close()

    def abort(self) -> None:
        """Roll back and give the connection back."""
        session, self._session = self._session, None
        if session is not None:
            session.close()  # closing rolls the open transaction back

    def release(self) -> None:
        """End the transaction so far (commit) and return the connection to the pool
        while the request waits on something slow (an upload's body); the next
        statement begins a new transaction, pinned again at its ``BEGIN``."""
        self.finish()

    def run(self, endpoint: Callable[..., Any], values: dict[str, Any]) -> Any:
        """A sync endpoint and the commit, in the calling worker thread."""
        try:
            result = endpoint(**values)
        except BaseException:
            self.abort()
            raise
        self.finish()
        return result


def active_unit() -> RequestUnit | None:
    """The running request's unit, if the code runs inside a request that has one."""
    return _current.get()


def current_unit() -> RequestUnit:
    """The running request's unit (route dependencies and endpoints only)."""
    unit = _current.get()
    if unit is None:
        raise NoRequestUnit(
            "this route's router does not manage a unit of work "
            "(build it with tenantry.routing's routers or pass UNIT_HOOKS)"
        )
    return unit


def unit_handler(
    session_factory: Callable[[Request], Callable[[], Session]],
) -> Callable[[Handler], Handler]:
    """Wrap a route's request handler: a fresh unit for each request, closed on any
    path the endpoint wrapper did not finish."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def with_unit(request: Request) -> Response:
            unit = RequestUnit(session_factory(request))
            token = _current.set(unit)
            try:
                return await handler(request)
            finally:
                _current.reset(token)
                if unit.open:  # refused or failed before or around the endpoint
                    await run_in_threadpool(unit.abort)

        return with_unit

    return wrap


def unit_endpoint(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an endpoint so its work and the unit's commit happen together: a sync
    endpoint and the commit in one worker thread; an async endpoint, then the commit
    (in a thread, only if the endpoint used the session)."""
    if inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint):
        raise TypeError(f"{endpoint.__qualname__}: streaming endpoints cannot hold a unit of work")
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(**values: Any) -> Any:
            unit = current_unit()
            try:
                result = await endpoint(**values)
            except BaseException:
                if unit.open:
                    await run_in_threadpool(unit.abort)
                raise
            if unit.open:
                await run_in_threadpool(unit.finish)
            return result

        return run_async

    @functools.wraps(endpoint)
    async def run_sync(**values: Any) -> Any:
        return await run_in_threadpool(current_unit().run, endpoint, values)

    return run_sync


def _app_sessions(request: Request) -> Callable[[], Session]:
    factory: Callable[[], Session] = request.app.state.db.new_session
    return factory


# Every router of the app passes these (tenantry.routing does; so do the few routers
# built with scoped_router directly).
UNIT_HOOKS = RouteHooks(endpoint=unit_endpoint, handler=unit_handler(_app_sessions))

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
- the endpoint runs through ``unit_endpoint``: a sync endpoint and the commit run
  together, and the result goes back only after the commit, so a client never gets a
  2xx for a write that then failed to commit. FastAPI sees a coroutine and validates
  the response itself.

The unit's sync work (the access check, a sync endpoint, the commit) runs in a greenlet
on the event loop (``tenantry.db.loop.run_on_loop``), its session on the loop engine
(psycopg's async connection), not in a worker thread: each ``RequestUnit.call``.

A route built without these hooks cannot use ``TenantSession``: ``current_unit``
raises (fail closed) instead of handing out a session nobody would commit.

**A deferred check** (one call into the unit per request instead of two): a dependency
may hand the unit a ``DeferredCheck`` instead of running it in a call of its own
(``require_tenant`` does, for a session it has verified before). The unit then
guarantees the check runs, in the request's pinned transaction, BEFORE:

- any statement on the unit's session (an ``after_begin`` listener runs it on the
  transaction's connection, ahead of whatever statement began the transaction);
- the endpoint (``RequestUnit.run``, ``unit_endpoint``'s async path);
- any error leaving the handler (so a refusal wins over a 422 or a ``role_required``
  exactly as when the check ran first), and a response leaving it;
- whatever calls ``ensure_checked`` (work that is not a statement on the session:
  an idempotency claim, an upload streamed to disk, a refusal that logs an event).

A refused check poisons the unit (its session is never handed out again) and its
``undo`` runs on the event loop. A check that finds the guess it was deferred on
wrong raises ``StaleGuess``: the handler runs again, once, with nothing deferred.

**A single read** (``single_read``): an endpoint whose whole unit is one read of one row.
Its transactions are begun ``READ ONLY``. With a deferred check to run, the unit checks a
connection out of the pool and begins the transaction on it itself (``begin_held``: the
same BEGIN message, the check riding in it), without SQLAlchemy's connection and
transaction objects; the endpoint's read (``tenantry.db.direct.first_row``) runs on that
connection with the ``COMMIT`` in its message and gives it back. Whatever else the
endpoint might run goes through the session as in any unit, in a new transaction, pinned
and READ ONLY. ``finish`` and ``abort`` end a held transaction the endpoint never read in.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction
from starlette.requests import Request
from starlette.responses import Response

from tenantry.db.dialect import (
    HeldTransaction,
    Rider,
    begin_held,
    read_only_transactions,
    riding_on_begin,
)
from tenantry.db.loop import run_on_loop
from tenantry.isolation.guard import GuardedSession
from tenantry.isolation.scopes import RouteHooks

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_current: contextvars.ContextVar[RequestUnit | None] = contextvars.ContextVar(
    "tenantry_request_unit", default=None
)


_UNIT_KEY = "tenantry_request_unit"


class NoRequestUnit(RuntimeError):
    """A route asked for the request's session without being built to commit it."""


class StaleGuess(Exception):
    """A deferred check passed but found the guess it was deferred on wrong (the
    member's role changed): nothing of the request has run; run it again, eagerly."""


class DeferredCheck(Protocol):
    def rider(self) -> Rider | None:
        """The check's read, to send in the BEGIN message of the transaction it will run
        in (``tenantry.db.dialect.Rider``), or None; ``run`` then reads its result."""

    def run(self, connection: Connection | None) -> None:
        """Check on the request's pinned transaction; raise to refuse (or StaleGuess).
        ``connection`` is ``None`` when the transaction is held without one
        (``HeldTransaction``): the rider's result is then always there."""

    def undo(self) -> None:
        """On the event loop, after a refusal: undo what deferring bound to the request."""


class RequestUnit:
    """The request's one session (created on first use; the connection is checked out
    when its first statement runs, and held until ``finish``/``abort``)."""

    __slots__ = (
        "_after",
        "_commit_with_read",
        "_factory",
        "_failed",
        "_held",
        "_pending",
        "_refused",
        "_session",
        "speculate",
        "verified",
    )

    def __init__(self, session_factory: Callable[[], Session], *, speculate: bool = True) -> None:
        self._factory = session_factory
        self._session: Session | None = None
        self._pending: DeferredCheck | None = None
        self._refused: DeferredCheck | None = None
        self._after: list[Callable[[], None]] = []  # run once the deferred check passed
        self._failed = False  # what ran after the check refused the request
        # A single-read endpoint's read may carry its transaction's COMMIT (once).
        self._commit_with_read = False
        # A single read's transaction, held without a session one (see ensure_checked).
        self._held: HeldTransaction | None = None
        # False when the handler runs again after a StaleGuess: check eagerly this time.
        self.speculate = speculate
        # What the request's authentication returned (``require_tenant``), so a second
        # dependency on it in the same run gets the same answer without a second check.
        self.verified: Any = None

    @property
    def session(self) -> Session:
        if self._refused is not None or self._failed:  # fail closed: serves nothing more
            raise RuntimeError("the request's access check refused it")
        if self._session is None:
            self._session = self._factory()
            self._session.info[_UNIT_KEY] = self
        return self._session

    # ---- the deferred check -----------------------------------------------------------

    @property
    def can_defer(self) -> bool:
        """Nothing is pending and no transaction has begun (so none ran unchecked)."""
        return self._pending is None and (
            self._session is None or not self._session.in_transaction()
        )

    def defer(self, check: DeferredCheck) -> None:
        if not self.can_defer:
            raise RuntimeError("a check is deferred before the unit's first statement, once")
        self._pending = check

    def after_check(self, work: Callable[[], None]) -> None:
        """Run ``work`` right after the pending check passed, in the unit's call, before
        whatever began the transaction (for what must follow the check and need not
        wait on anything: counting the request's quota in memory). Its error refuses
        the request (the
        unit serves nothing more), without undoing the tenant binding: the check
        passed."""
        if self._pending is None:
            raise RuntimeError("no check is pending: do it now")
        self._after.append(work)

    @property
    def pending(self) -> bool:
        return self._pending is not None

    @property
    def refused(self) -> bool:
        return self._refused is not None

    def ensure_checked(self) -> None:
        """Run the deferred check now, if one is pending (sync: inside ``call``).
        Beginning the session's transaction runs it (``_check_first``); if this begins
        it, the check's read rides in the BEGIN message (no round trip of its own)."""
        if self._pending is None:
            return
        rider = None if self.session.in_transaction() else self._pending.rider()
        if rider is None:
            self.session.connection()
            return
        if self._commit_with_read and self._hold(rider):
            return
        with riding_on_begin(rider):
            self.session.connection()

    def _hold(self, rider: Rider) -> bool:
        """A single read's transaction without the session's: a pooled connection begun
        with the BEGIN message and the check riding in it, the check's answer read from
        it. The read then goes on that connection with the COMMIT
        (``tenantry.db.direct``), which gives it back; SQLAlchemy's connection and
        transaction bookkeeping is skipped for the request. Not where the rider cannot
        ride (``begin_held``): then the session begins as for any unit."""
        bind = self.session.bind
        held = begin_held(bind, rider) if isinstance(bind, Engine) else None
        if held is None:
            return False
        self._held = held
        self._run_pending(None)
        return True

    def take_held(self) -> HeldTransaction | None:
        """The held transaction, for the unit's one read to end (``tenantry.db.direct``)."""
        held, self._held = self._held, None
        if held is not None:  # its read carries the COMMIT: no other read does
            self._commit_with_read = False
        return held

    def _run_pending(self, connection: Connection | None) -> None:
        check, self._pending = self._pending, None
        if check is None:
            return
        after, self._after = self._after, []
        try:
            check.run(connection)
        except BaseException:
            self._refused = check
            raise
        try:
            for work in after:
                work()
        except BaseException:
            self._failed = True
            raise

    def undo_refused(self) -> None:
        if self._refused is not None:
            self._refused.undo()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run the unit's sync work ``fn`` (anything using its session) on the loop."""
        return await run_on_loop(fn, *args)

    @property
    def open(self) -> bool:
        return self._session is not None or self._held is not None

    def finish(self) -> None:
        """Commit and give the connection back (nothing to do if no session was made)."""
        held, self._held = self._held, None
        if held is not None:  # the endpoint never read: end the check's transaction
            try:
                held.end(commit=True)
            except BaseException:
                self.abort()
                raise
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if session.in_transaction():  # not when its read carried the COMMIT
                session.commit()
        finally:
            session.close()

    def abort(self) -> None:
        """Roll back and give the connection back."""
        held, self._held = self._held, None
        session, self._session = self._session, None
        try:
            if held is not None:
                held.end(commit=False)
        finally:
            if session is not None:
                session.close()  # closing rolls the open transaction back

    def release(self) -> None:
        """End the transaction so far (commit) and return the connection to the pool
        while the request waits on something slow (an upload's body); the next
        statement begins a new transaction, pinned again at its ``BEGIN``. A deferred
        check runs first: nothing slow is waited on for a refused request."""
        try:
            self.ensure_checked()
        except BaseException:
            self.abort()
            raise
        self.finish()

    def run(
        self, endpoint: Callable[..., Any], values: dict[str, Any], single_read: bool = False
    ) -> Any:
        """The deferred check (if any), a sync endpoint and the commit, in one ``call``
        for the whole request. A ``single_read`` endpoint's transactions are begun READ
        ONLY, and its read may carry the COMMIT (``commits_with_read``)."""
        if not single_read:
            return self._run(endpoint, values)
        with read_only_transactions():
            # Only a transaction begun here, READ ONLY, may end with the read: one begun
            # before (an eager access check) stays the dependencies' to end.
            self._commit_with_read = not self.session.in_transaction()
            return self._run(endpoint, values)

    def _run(self, endpoint: Callable[..., Any], values: dict[str, Any]) -> Any:
        try:
            self.ensure_checked()
            result = endpoint(**values)
        except BaseException:
            self.abort()
            raise
        self.finish()
        return result

    def commits_with_read(self, session: Session) -> bool:
        """Whether the read about to run on ``session`` sends the transaction's COMMIT
        in its own message (``tenantry.db.direct.first_row``): the unit's single read,
        in the READ ONLY transaction begun for it. True once; the caller then ends the
        session's transaction (``session.commit()``, which sends nothing more)."""
        armed = self._commit_with_read and session is self._session and session.in_transaction()
        self._commit_with_read = False
        return armed


@event.listens_for(GuardedSession, "after_begin")
def _check_first(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    """A unit's deferred check is the first statement of its transaction, whatever
    began it (registered after the guard's own ``after_begin``, which pins the tenant
    on engines whose BEGIN does not)."""
    unit = session.info.get(_UNIT_KEY)
    if unit is not None and unit._pending is not None:
        unit._run_pending(connection)


async def ensure_checked() -> None:
    """For work that is not a statement on the unit's session (a claim in a session of
    its own, bytes written to disk, a refusal that logs a security event): run the
    request's deferred check first (a call into the unit only when one is pending)."""
    unit = _current.get()
    if unit is not None and unit.pending:
        await unit.call(unit.ensure_checked)


def unit_of(session: Session) -> RequestUnit | None:
    """The request unit ``session`` belongs to, if any."""
    unit: RequestUnit | None = session.info.get(_UNIT_KEY)
    return unit


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
            speculate = True
            while True:
                unit = RequestUnit(session_factory(request), speculate=speculate)
                token = _current.set(unit)
                try:
                    return await _serve(unit, handler, request)
                except StaleGuess:
                    if not speculate:  # pragma: no cover - an eager check guesses nothing
                        raise
                    speculate = False  # once more, with the check run first
                finally:
                    _current.reset(token)
                    if unit.open:  # refused or failed before or around the endpoint
                        await unit.call(unit.abort)

        return with_unit

    return wrap


async def _serve(unit: RequestUnit, handler: Handler, request: Request) -> Response:
    """The handler, with a still-pending check run before anything leaves it."""
    try:
        response = await handler(request)
        if unit.pending:  # fail closed: nothing ran it (the endpoint touched nothing)
            await unit.call(unit.ensure_checked)
        return response
    except Exception:
        # A refusal must win over the error (a 422, a role_required guessed from a
        # stale role): run the check first; its refusal or StaleGuess replaces it.
        if unit.pending:
            await unit.call(unit.ensure_checked)
        raise
    finally:
        if unit.refused:
            unit.undo_refused()


_SINGLE_READ = "__tenantry_single_read__"


def single_read(endpoint: F) -> F:
    """Mark a sync endpoint whose whole unit of work is one read of one row
    (``Repository.row_or_404``). Its transaction is begun ``READ ONLY``, so the server
    refuses any write in it, and the read carries the transaction's ``COMMIT`` in its
    own message: one round trip fewer (``tenantry.db.direct``). A statement the
    endpoint runs after that read begins a new transaction, pinned and READ ONLY like
    the first."""
    if not callable(endpoint) or inspect.iscoroutinefunction(endpoint):
        raise TypeError("single_read marks a sync endpoint (def, not async def)")
    setattr(endpoint, _SINGLE_READ, True)
    return endpoint


def unit_endpoint(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an endpoint so its work and the unit's commit happen together: a sync
    endpoint and the commit in one ``call``; an async endpoint, then the commit (a
    call only if the endpoint used the session)."""
    if inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint):
        raise TypeError(f"{endpoint.__qualname__}: streaming endpoints cannot hold a unit of work")
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(**values: Any) -> Any:
            unit = current_unit()
            try:
                if unit.pending:
                    await unit.call(unit.ensure_checked)
                result = await endpoint(**values)
            except BaseException:
                if unit.open:
                    await unit.call(unit.abort)
                raise
            if unit.open:
                await unit.call(unit.finish)
            return result

        return run_async

    one_read = getattr(endpoint, _SINGLE_READ, False)

    @functools.wraps(endpoint)
    async def run_sync(**values: Any) -> Any:
        unit = current_unit()
        return await unit.call(unit.run, endpoint, values, one_read)

    return run_sync


def _app_sessions(request: Request) -> Callable[[], Session]:
    factory: Callable[[], Session] = request.app.state.db.loop_session
    return factory


# Every router of the app passes these (tenantry.routing does; so do the few routers
# built with scoped_router directly).
UNIT_HOOKS = RouteHooks(endpoint=unit_endpoint, handler=unit_handler(_app_sessions))

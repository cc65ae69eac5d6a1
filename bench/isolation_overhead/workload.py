"""The queries and the three ways of running each one.

Every execution is one request-shaped unit of work — open a session, begin, run the
statement, fetch everything, commit, close — so the per-transaction costs of the walls
(the tenant pin, the guard's statement rewriting) are counted, not
hidden. Variants:

``off``    the migrator (BYPASSRLS, so RLS is skipped), a plain ``Session`` and the
           tenant predicate written by hand: the fastest correct way without isolation.
``walls``  the app role (RLS applies) on the app's own engine (``loop_app_engine``, or
           ``app_engine`` for the blocking driver: the transaction's BEGIN carries the
           tenant pin), a ``GuardedSession`` inside ``tenant_context``: the guard adds
           the tenant predicate — exactly what a request's unit does
           (``Database.loop_session()``; ``Database.session()`` off the loop).
``set``    ``off`` on an engine of the app's kind (BEGIN carries the pin; still
           BYPASSRLS): what pinning the transaction to a tenant costs, before any policy.
``rls``    the app role on the app's engine, a plain ``Session`` (no guard) in the
           tenant context and the same hand-written predicate as ``off``: RLS alone.

So walls/off = set/off (the pin) x rls/set (the policy, server side) x walls/rls
(the guard, client side) — which is how a miss is attributed.

``aa``     ``off`` again, on an engine of its own: an A/A control. aa/off shows how far
           two identical ways of running a statement drift apart in this run — the
           noise floor a ratio has to be read against (each engine's statements run on
           its own server backend, and on a VM a backend's place relative to the client
           is worth several per cent; ``Runner.recycle`` redraws them between blocks).

No engine uses ``pool_pre_ping`` (the app's engine checks liveness without a round
trip; the migrator's ping would only dilute the ratio), and all run with
``synchronous_commit = off`` so the insert measures work, not the disk's fsync.

**Drivers.** ``loop`` (the default) runs every unit the way a request runs its unit
since e0a65c6: the sync work in a greenlet on an event loop (``tenantry.db.loop.
run_on_loop``; uvloop when installed, as ``tenantry serve`` picks it), each statement
over psycopg's async connection — the app variants on ``loop_app_engine`` (the
``TenantryAsyncDialect``: the pin in the BEGIN message, sent by ``send_begin_async``),
``off``/``aa`` on SQLAlchemy's stock ``psycopg_async`` dialect. A unit's time is taken
inside the loop around ``run_on_loop`` (greenlet spawn, context copy and the work; not
the loop's own start and stop between units). ``blocking`` runs the same units on
psycopg's blocking connection (``app_engine``, ``TenantryDialect``): the path the CLI
and the job worker take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from bench.isolation_overhead.data import SEARCH_TERM, TenantSample
from tenantry.bookings.models import Booking
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import app_engine, loop_app_engine
from tenantry.db.loop import run_on_loop
from tenantry.invoices.models import Invoice
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.guard import GuardedSession
from tenantry.service_requests.models import ServiceRequest

T = TypeVar("T")
Variant = Literal["off", "set", "rls", "walls", "aa"]
Driver = Literal["loop", "blocking"]
DRIVERS: tuple[Driver, ...] = ("loop", "blocking")
VARIANTS: tuple[Variant, ...] = ("off", "set", "rls", "walls", "aa")
# The statement a variant runs is that of its base variant (the A/A control runs off's).
_BASE: dict[Variant, Variant] = {"aa": "off"}


@dataclass(frozen=True)
class Query:
    name: str
    table: str
    description: str
    # Returns what it read — (tenant_id, id) pairs, or a count — for the row check.
    run: Callable[[Session, TenantSample, int, Variant], Any]
    writes: bool = False


Rows = list[tuple[Any, Any]]  # (tenant_id, id) of each row read


def _rows(objects: Any) -> Rows:
    return [(o.tenant_id, o.id) for o in objects]


def _point_lookup(s: Session, t: TenantSample, i: int, v: Variant) -> Rows:
    stmt = select(Booking).where(Booking.id == t.booking_ids[i % len(t.booking_ids)])
    if v != "walls":
        stmt = stmt.where(Booking.tenant_id == t.id)
    return _rows([s.scalars(stmt).one()])


def _filtered_list(s: Session, t: TenantSample, i: int, v: Variant) -> Rows:
    stmt = (
        select(ServiceRequest)
        .where(ServiceRequest.status == "submitted")
        .order_by(ServiceRequest.created_at.desc())
        .limit(20)
    )
    if v != "walls":
        stmt = stmt.where(ServiceRequest.tenant_id == t.id)
    return _rows(s.scalars(stmt).all())


def _count(s: Session, t: TenantSample, i: int, v: Variant) -> int:
    stmt = select(func.count()).select_from(Invoice)
    if v != "walls":
        stmt = stmt.where(Invoice.tenant_id == t.id)
    return int(s.scalar(stmt) or 0)


def _insert(s: Session, t: TenantSample, i: int, v: Variant) -> None:
    row = ServiceRequest(
        client_id=t.client_id, service_id=t.service_id, title=f"Bench insert {v} {i}"
    )
    if v != "walls":
        row.tenant_id = t.id  # the guard sets it in the walls variant
    s.add(row)


def _ilike_scoped(s: Session, t: TenantSample, i: int, v: Variant) -> Rows:
    stmt = (
        select(ServiceRequest)
        .where(ServiceRequest.title.ilike(SEARCH_TERM))
        .order_by(ServiceRequest.created_at.desc())
        .limit(50)
    )
    if v != "walls":
        stmt = stmt.where(ServiceRequest.tenant_id == t.id)
    return _rows(s.scalars(stmt).all())


_ILIKE_SQL = (
    "select tenant_id, id, title, status, created_at from service_requests where title ilike :q"
    " {tenant} order by created_at desc limit 50"
)
_ILIKE_PLAIN = text(_ILIKE_SQL.format(tenant=""))
_ILIKE_EXPLICIT = text(_ILIKE_SQL.format(tenant="and tenant_id = :tid"))


def _ilike_plain(s: Session, t: TenantSample, i: int, v: Variant) -> Rows:
    # Raw SQL is invisible to the guard: in ``walls`` and ``rls`` only the policy scopes
    # it. ``off`` and ``set`` bypass RLS, so they need the hand-written predicate.
    if v in ("off", "set"):
        return _rows(s.execute(_ILIKE_EXPLICIT, {"q": SEARCH_TERM, "tid": t.id}).all())
    return _rows(s.execute(_ILIKE_PLAIN, {"q": SEARCH_TERM}).all())


def _ilike_rare(s: Session, t: TenantSample, i: int, v: Variant) -> Rows:
    # A selective search (an 8-character fragment of one reference): the case where a
    # trigram index is the right plan — if the planner may use it (see README).
    stmt = select(ServiceRequest).where(ServiceRequest.description.ilike(t.rare_term)).limit(50)
    if v != "walls":
        stmt = stmt.where(ServiceRequest.tenant_id == t.id)
    return _rows(s.scalars(stmt).all())


def _page(s: Session, t: TenantSample, i: int, v: Variant) -> tuple[Rows, Rows, int]:
    # A request rarely runs one statement: the per-transaction costs (the pin
    # round trip) are shared by everything the request reads.
    return _point_lookup(s, t, i, v), _filtered_list(s, t, i, v), _count(s, t, i, v)


QUERIES: tuple[Query, ...] = (
    Query("point_lookup", "bookings", "one booking by id", _point_lookup),
    Query(
        "filtered_list",
        "service_requests",
        "status = 'submitted' ORDER BY created_at DESC LIMIT 20",
        _filtered_list,
    ),
    Query("count", "invoices", "count(*) of the tenant's invoices", _count),
    Query("insert", "service_requests", "one new service request", _insert, writes=True),
    Query(
        "ilike_scoped",
        "service_requests",
        "ORM: title ILIKE '%boiler%' ORDER BY created_at DESC LIMIT 50"
        " (tenant predicate from the guard / by hand)",
        _ilike_scoped,
    ),
    Query(
        "ilike_plain",
        "service_requests",
        "raw SQL: same search with no tenant predicate (RLS alone scopes it)",
        _ilike_plain,
    ),
    Query(
        "page",
        "bookings, service_requests, invoices",
        "point lookup + filtered list + count in one transaction (a typical request)",
        _page,
    ),
)

# Only with --trigram (a pg_trgm GIN index on service_requests.description).
TRIGRAM_QUERIES: tuple[Query, ...] = (
    Query(
        "ilike_rare",
        "service_requests",
        "ORM: description ILIKE '%<8 hex chars>%' LIMIT 50 (selective; trigram-indexable)",
        _ilike_rare,
    ),
)


def new_event_loop() -> tuple[asyncio.AbstractEventLoop, str]:
    """The event loop a served worker runs on: uvloop when installed (uvicorn's
    ``loop="auto"``), else asyncio's default. Returns the loop and its name."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the app
        return asyncio.new_event_loop(), "asyncio"
    return uvloop.new_event_loop(), "uvloop"


async def _timed_on_loop(work: Callable[[], None]) -> int:
    """A request's ``RequestUnit.call``: the sync work in a greenlet on the loop."""
    started = time.perf_counter_ns()
    await run_on_loop(work)
    return time.perf_counter_ns() - started


class Runner:
    """Engines and sessions for the variants, and a timed unit of work, on ``driver``."""

    def __init__(self, urls: DatabaseUrls, driver: Driver = "loop") -> None:
        if driver not in DRIVERS:
            raise ValueError(f"unknown driver {driver!r} (one of {', '.join(DRIVERS)})")
        self.driver: Driver = driver
        options = {"options": "-c synchronous_commit=off"}
        kw: dict[str, Any] = {"pool_size": 2, "max_overflow": 0, "connect_args": options}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.loop_name = ""
        # One engine per variant, so each variant's statements run on a server backend
        # of their own, used as often as every other variant's. (``walls`` and ``rls``
        # once shared one: a backend used twice as often runs each statement ~4-5 %
        # faster on this machine — measured with an A/A pair — which flattered both.)
        engines: dict[Variant, Engine]
        if driver == "loop":
            self._loop, self.loop_name = new_event_loop()
            plain = urls.migrator.set(drivername="postgresql+psycopg_async")
            self._async: dict[Variant, AsyncEngine] = {
                "walls": loop_app_engine(urls.app, **kw),  # as Database.loop_engine
                "rls": loop_app_engine(urls.app, **kw),
                "off": create_async_engine(plain, **kw),
                "set": loop_app_engine(urls.migrator, **kw),
                "aa": create_async_engine(plain, **kw),  # off's twin
            }
            engines = {v: e.sync_engine for v, e in self._async.items()}
        else:
            self._async = {}
            engines = {
                "walls": app_engine(urls.app, **kw),
                "rls": app_engine(urls.app, **kw),
                "off": create_engine(urls.migrator, **kw),
                "set": app_engine(urls.migrator, **kw),
                "aa": create_engine(urls.migrator, **kw),  # off's twin
            }
        self.engines = engines  # the sync face of each (for the loop: ``.sync_engine``)
        # Like Database.session() / loop_session(): GuardedSession on the app engine for
        # ``walls``; plain sessions for the others.
        self._factories: dict[Variant, Callable[[], Session]] = {
            v: sessionmaker(
                e, class_=GuardedSession if v == "walls" else Session, expire_on_commit=False
            )
            for v, e in engines.items()
        }

    def _sync(self, fn: Callable[[], T]) -> T:
        """Run sync database work where this runner's units run: on the loop (in a
        greenlet, as a request's unit), or right here for the blocking driver."""
        if self._loop is None:
            return fn()
        return self._loop.run_until_complete(run_on_loop(fn))

    @contextmanager
    def unit_of_work(self, variant: Variant, tenant: TenantSample) -> Iterator[Session]:
        """What a request does: one session, one transaction, commit at the end."""
        with _context_for(variant, tenant), self._factories[variant]() as s, s.begin():
            yield s

    def timed(self, query: Query, variant: Variant, tenant: TenantSample, i: int) -> int:
        base = _BASE.get(variant, variant)

        def work() -> None:
            with self.unit_of_work(variant, tenant) as s:
                query.run(s, tenant, i, base)

        if self._loop is not None:
            return self._loop.run_until_complete(_timed_on_loop(work))
        started = time.perf_counter_ns()
        work()
        return time.perf_counter_ns() - started

    def recycle(self) -> None:
        """Close every pooled connection: the next units run on new server backends.

        A backend keeps its place relative to the client (which CPU it wakes on, what
        it shares a cache with) for as long as it lives, and each engine here uses one
        backend: without redrawing them, that lottery is drawn once per run and biases
        every ratio of the run alike (it is what moved rls/set between runs).
        """
        self._dispose()

    def result(
        self, query: Query, variant: Variant | Literal["unscoped"], tenant: TenantSample
    ) -> Any:
        """What ``query`` reads as ``variant`` (rolled back). ``unscoped``: the walls
        variant's statement — no tenant predicate of its own — on the migrator's plain
        session, so no wall scopes it: every tenant's rows (the row check's control)."""

        def read() -> Any:
            if variant == "unscoped":
                with self._factories["off"]() as s:
                    try:
                        return query.run(s, tenant, 0, "walls")
                    finally:
                        s.rollback()
            with self._session_for(variant, tenant) as s:
                return query.run(s, tenant, 0, variant)

        return self._sync(read)

    def capture_sql(
        self, query: Query, variant: Variant, tenant: TenantSample
    ) -> list[tuple[str, Any]]:
        """Run ``query`` once (rolled back) and return the statements it sent."""
        engine = self.engines[variant]
        sent: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            sent.append((statement, params))

        def run() -> None:
            with self._session_for(variant, tenant) as s:
                query.run(s, tenant, 0, variant)
                s.flush()

        event.listen(engine, "before_cursor_execute", capture)
        try:
            self._sync(run)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        return sent

    @contextmanager
    def _session_for(self, variant: Variant, tenant: TenantSample) -> Iterator[Session]:
        """Like ``unit_of_work`` but rolled back (EXPLAIN ANALYZE of an insert writes)."""
        with _context_for(variant, tenant), self._factories[variant]() as s:
            s.begin()
            try:
                yield s
            finally:
                s.rollback()

    def explain(
        self, variant: Variant, tenant: TenantSample, statement: str, params: Any
    ) -> tuple[Any, list[str]]:
        """(JSON plan, EXPLAIN ANALYZE text) of ``statement`` as ``variant`` runs it.

        The text is the fastest of three runs with TIMING OFF: per-node timing costs two
        clock reads per row per node and would inflate plans with more nodes (the walls
        plans carry a gating Result node) far beyond what they cost unobserved.
        """
        explain = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement

        def run() -> tuple[Any, list[str]]:
            with self._session_for(variant, tenant) as s:
                conn = s.connection()  # begins: BEGIN carries the pin (walls, rls, set)
                plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params)
                plan_json = plan.scalar()
                runs = []
                for _ in range(3):
                    savepoint = conn.begin_nested()  # an insert must not collide with its re-run
                    runs.append([row[0] for row in conn.exec_driver_sql(explain, params)])
                    savepoint.rollback()
            return plan_json, min(runs, key=_execution_ms)

        return self._sync(run)

    def _dispose(self) -> None:
        if self._loop is None:
            for engine in self.engines.values():
                engine.dispose()
            return
        for async_engine in self._async.values():  # closing an async connection awaits
            self._loop.run_until_complete(async_engine.dispose())

    def dispose(self) -> None:
        """Close every connection (and the runner's event loop): the runner is done."""
        if self._loop is not None and self._loop.is_closed():
            return
        self._dispose()
        if self._loop is not None:
            self._loop.close()


def _execution_ms(lines: list[str]) -> float:
    for line in lines:
        if line.startswith("Execution Time:"):
            return float(line.split()[2])
    return float("inf")


@contextmanager
def _context_for(variant: Variant, tenant: TenantSample) -> Iterator[None]:
    """The tenant context a request would carry: the app's engines pin it at BEGIN (walls,
    rls, set), the guarded session (walls) also filters by it; ``off`` has none."""
    if _BASE.get(variant, variant) != "off":
        with tenant_context(TenantContext(tenant_id=tenant.id)):
            yield
    else:
        yield

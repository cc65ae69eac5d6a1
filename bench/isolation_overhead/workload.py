"""The queries and the three ways of running each one.

Every execution is one request-shaped unit of work — open a session, begin, run the
statement, fetch everything, commit, close — so the per-transaction costs of the walls
(the tenant pin, the guard's statement rewriting) are counted, not
hidden. Variants:

``off``    the migrator (BYPASSRLS, so RLS is skipped), a plain ``Session`` and the
           tenant predicate written by hand: the fastest correct way without isolation.
``walls``  the app role (RLS applies) on the app's own engine (``db.engine.app_engine``:
           the transaction's BEGIN carries the tenant pin), a ``GuardedSession`` inside
           ``tenant_context``: the guard adds the tenant predicate — exactly what a
           request does (``Database.session()``).
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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.isolation_overhead.data import SEARCH_TERM, TenantSample
from tenantry.bookings.models import Booking
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import app_engine
from tenantry.invoices.models import Invoice
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.guard import GuardedSession
from tenantry.service_requests.models import ServiceRequest

Variant = Literal["off", "set", "rls", "walls", "aa"]
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


class Runner:
    """Engines and sessions for the three variants, and a timed unit of work."""

    def __init__(self, urls: DatabaseUrls) -> None:
        options = {"options": "-c synchronous_commit=off"}
        kw: dict[str, Any] = {"pool_size": 2, "max_overflow": 0, "connect_args": options}
        # One engine per variant, so each variant's statements run on a server backend
        # of their own, used as often as every other variant's. (``walls`` and ``rls``
        # once shared one: a backend used twice as often runs each statement ~4-5 %
        # faster on this machine — measured with an A/A pair — which flattered both.)
        self.app_engine: Engine = app_engine(urls.app, **kw)
        self.rls_engine: Engine = app_engine(urls.app, **kw)
        self.off_engine: Engine = create_engine(urls.migrator, **kw)
        self.set_engine: Engine = app_engine(urls.migrator, **kw)
        self.aa_engine: Engine = create_engine(urls.migrator, **kw)  # off's twin
        # Like Database.session(): GuardedSession on the app engine for ``walls``.
        walls = sessionmaker(self.app_engine, class_=GuardedSession, expire_on_commit=False)
        rls = sessionmaker(self.rls_engine, expire_on_commit=False)
        pinned = sessionmaker(self.set_engine, expire_on_commit=False)
        off = sessionmaker(self.off_engine, expire_on_commit=False)
        aa = sessionmaker(self.aa_engine, expire_on_commit=False)
        self._factories: dict[Variant, Callable[[], Session]] = {
            "walls": walls, "rls": rls, "set": pinned, "off": off, "aa": aa,
        }  # fmt: skip

    @contextmanager
    def unit_of_work(self, variant: Variant, tenant: TenantSample) -> Iterator[Session]:
        """What a request does: one session, one transaction, commit at the end."""
        with _context_for(variant, tenant), self._factories[variant]() as s, s.begin():
            yield s

    def timed(self, query: Query, variant: Variant, tenant: TenantSample, i: int) -> int:
        base = _BASE.get(variant, variant)
        started = time.perf_counter_ns()
        with self.unit_of_work(variant, tenant) as s:
            query.run(s, tenant, i, base)
        return time.perf_counter_ns() - started

    def recycle(self) -> None:
        """Close every pooled connection: the next units run on new server backends.

        A backend keeps its place relative to the client (which CPU it wakes on, what
        it shares a cache with) for as long as it lives, and each engine here uses one
        backend: without redrawing them, that lottery is drawn once per run and biases
        every ratio of the run alike (it is what moved rls/set between runs).
        """
        for engine in self._engines:
            engine.dispose()

    def result(
        self, query: Query, variant: Variant | Literal["unscoped"], tenant: TenantSample
    ) -> Any:
        """What ``query`` reads as ``variant`` (rolled back). ``unscoped``: the walls
        variant's statement — no tenant predicate of its own — on the migrator's plain
        session, so no wall scopes it: every tenant's rows (the row check's control)."""
        if variant == "unscoped":
            with self._factories["off"]() as s:
                try:
                    return query.run(s, tenant, 0, "walls")
                finally:
                    s.rollback()
        with self._session_for(variant, tenant) as s:
            return query.run(s, tenant, 0, variant)

    def capture_sql(
        self, query: Query, variant: Variant, tenant: TenantSample
    ) -> list[tuple[str, Any]]:
        """Run ``query`` once (rolled back) and return the statements it sent."""
        engine = {"off": self.off_engine, "set": self.set_engine, "rls": self.rls_engine}.get(
            variant, self.app_engine
        )
        sent: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            sent.append((statement, params))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            with self._session_for(variant, tenant) as s:
                query.run(s, tenant, 0, variant)
                s.flush()
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
        with self._session_for(variant, tenant) as s:
            conn = s.connection()  # begins: BEGIN carries the pin (walls, rls, set)
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
            runs = []
            for _ in range(3):
                savepoint = conn.begin_nested()  # an insert must not collide with its re-run
                runs.append([row[0] for row in conn.exec_driver_sql(explain, params)])
                savepoint.rollback()
        return plan, min(runs, key=_execution_ms)

    @property
    def _engines(self) -> tuple[Engine, ...]:
        return (self.app_engine, self.rls_engine, self.off_engine, self.set_engine, self.aa_engine)

    def dispose(self) -> None:
        for engine in self._engines:
            engine.dispose()


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

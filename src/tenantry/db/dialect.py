"""The app role's SQLAlchemy dialect: psycopg, with every transaction begun by our message.

psycopg, left to itself, sends ``BEGIN`` in a round trip of its own before the first
statement of a transaction; pinning the tenant with a statement would then cost a second
one. This dialect keeps psycopg in autocommit mode (so psycopg never sends ``BEGIN``) and
begins each transaction itself, in SQLAlchemy's ``do_begin``, with one message:
``BEGIN; SET LOCAL app.current_tenant_id = ...; SET LOCAL app.current_user_id = ...`` for
the current tenant context (``tenantry.isolation.pin``). A single-statement transaction
then costs what it costs without isolation: BEGIN, the statement, COMMIT.

Commit and rollback are unchanged: psycopg sends them whenever the server says a
transaction is open, whatever its autocommit flag. An ``isolation_level`` execution
option is honoured by putting the level into our ``BEGIN``; ``AUTOCOMMIT`` means no
``BEGIN`` at all. Inside ``read_only_transactions`` the ``BEGIN`` says ``READ ONLY``.

The pool checks liveness without a round trip (``install_liveness_check``): SQLAlchemy's
``pool_pre_ping`` costs a ``SELECT 1`` per checkout.

Two drivers, one behaviour: ``TenantryDialect`` on psycopg's blocking connection (the
CLI, the job worker, work a request hands to a thread) and ``TenantryAsyncDialect`` on
psycopg's async connection, which request units use on the event loop
(``tenantry.db.loop``). Both begin with the same message in one round trip. On the
async one (``PinningAsyncConnection``) ``do_begin`` only leaves the message pending: the
transaction's first statement sends it in its own wait, where psycopg would send its own
``BEGIN``, so a pinned transaction costs no await of its own; a BEGIN that carries a
rider (whose rows are read at once) is still sent on its own. Its pool skips the
reset-on-return rollback when the server is idle (psycopg would send nothing).
"""

from __future__ import annotations

import contextlib
import contextvars
import select
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg.pq.abc import PGresult
from sqlalchemy import event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg, PGDialectAsync_psycopg
from sqlalchemy.engine import URL, Engine
from sqlalchemy.util.concurrency import await_

from tenantry.db.cursor import DescribingAsyncCursor, lazy_description
from tenantry.isolation.context import current_context
from tenantry.isolation.pin import (
    PinningAsyncConnection,
    begin_message,
    pin_in_first_statement,
    pin_of,
    send_begin,
    send_begin_async,
)

DRIVERNAME = "postgresql+tenantry"
ASYNC_DRIVERNAME = "postgresql+tenantry_async"

Driver = psycopg.Connection[Any] | psycopg.AsyncConnection[Any]

# Isolation levels asked for per connection (execution option), by psycopg connection.
# Absent: the server's default (plain BEGIN).
_LEVELS: weakref.WeakKeyDictionary[Driver, str] = weakref.WeakKeyDictionary()


class PreparedRead:
    """A read that app connections prepare once (SQL ``PREPARE``, kept by the server
    for the connection's life) and run inside a transaction's BEGIN message (``Rider``).
    ``sql`` takes ``$1``, ``$2``... of ``types``."""

    __slots__ = ("name", "prepare")

    def __init__(self, name: str, sql: str, types: tuple[str, ...]) -> None:
        self.name = name.encode()
        self.prepare = f"PREPARE {name} ({', '.join(types)}) AS {sql}".encode()

    def execute(self, *literals: bytes) -> bytes:
        """``EXECUTE`` with arguments already quoted (``psycopg.sql.Literal``)."""
        return b"EXECUTE " + self.name + b"(" + b", ".join(literals) + b")"


class Rider:
    """A prepared read sent in the BEGIN message of the next transaction begun where it
    is set (``riding_on_begin``), after the pin: its rows come back with the BEGIN's, in
    the same round trip (``result``, text format). ``result`` stays ``None`` when no
    BEGIN carried it (another engine, a pooler, autocommit): the caller then runs the
    read itself."""

    __slots__ = ("execute", "read", "result")

    def __init__(self, read: PreparedRead, execute: bytes) -> None:
        self.read = read
        self.execute = execute  # read.execute(...) for this call's arguments
        self.result: PGresult | None = None


_RIDER: contextvars.ContextVar[Rider | None] = contextvars.ContextVar(
    "tenantry_begin_rider", default=None
)

# The reads each psycopg connection has prepared (as far as we know: psycopg's own
# DEALLOCATE ALL after a rollback drops them too, which a failed EXECUTE then tells).
_PREPARED: weakref.WeakKeyDictionary[Driver, set[bytes]] = weakref.WeakKeyDictionary()


# Connections to a server where no read rides in BEGIN (Citus), found when they connect.
_RIDERLESS: weakref.WeakSet[Driver] = weakref.WeakSet()
_CITUS = b"SELECT 1 FROM pg_extension WHERE extname = 'citus'"


@contextlib.contextmanager
def riding_on_begin(rider: Rider) -> Iterator[Rider]:
    """While the block runs, the first transaction begun on an app engine carries
    ``rider`` in its BEGIN message (one transaction only: a rider is sent once)."""
    token = _RIDER.set(rider)
    try:
        yield rider
    finally:
        _RIDER.reset(token)


_READ_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tenantry_read_only_begin", default=False
)


@contextlib.contextmanager
def read_only_transactions() -> Iterator[None]:
    """While the block runs, transactions begun on an app engine are ``READ ONLY``: the
    server refuses any write in them (a request unit that promised a single read,
    ``tenantry.db.unit.single_read``)."""
    token = _READ_ONLY.set(True)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


def driver_of(dbapi_connection: Any) -> Driver:
    """The psycopg connection behind what SQLAlchemy passes: the pool's proxy, the
    connection itself, or (async) SQLAlchemy's adapter around it."""
    raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
    raw = getattr(raw, "driver_connection", raw)
    assert isinstance(raw, psycopg.Connection | psycopg.AsyncConnection)
    return raw


class HeldTransaction:
    """A transaction on a pooled connection, held without SQLAlchemy's ``Connection`` or
    ``Session`` around it: begun by the same BEGIN message ``do_begin`` sends (the pin,
    the access check riding in it). A single-read request unit holds one
    (``tenantry.db.unit.single_read``): its read then needs no more of SQLAlchemy than
    the compiled statement (``tenantry.db.direct``)."""

    __slots__ = ("_fairy", "dialect", "driver")

    def __init__(self, fairy: Any, dialect: Any, driver: Driver) -> None:
        self._fairy = fairy
        self.dialect = dialect
        self.driver = driver

    def invalidate(self, error: BaseException | None = None) -> None:
        """The connection is broken: the pool never hands it out again."""
        if self._fairy is not None:
            self._fairy.invalidate(error)

    def end(self, *, commit: bool) -> None:
        """Commit or roll back what the server still has open (nothing is sent when the
        read carried the COMMIT) and give the connection back to the pool."""
        fairy, self._fairy = self._fairy, None
        if fairy is None:
            return
        try:
            if fairy.is_valid:
                if commit:
                    self.dialect.do_commit(fairy)
                else:
                    self.dialect.do_rollback(fairy)
        except BaseException:
            fairy.invalidate()
            raise
        finally:
            fairy.close()


def begin_held(engine: Engine, rider: Rider) -> HeldTransaction | None:
    """Check a connection out of ``engine``'s pool and begin a transaction on it with the
    BEGIN message and ``rider`` in it; ``None`` (and nothing checked out) where no rider
    could ride (another dialect, a pooler, Citus) or where engine events must see every
    statement (a cursor-execute listener: tracing)."""
    dialect = engine.dialect
    if not isinstance(dialect, _BeginsPinned) or not dialect.riders:
        return None
    if engine._has_events and (
        engine.dispatch.before_cursor_execute or engine.dispatch.after_cursor_execute
    ):
        return None
    fairy = engine.raw_connection()
    try:
        raw = driver_of(fairy)
        if raw in _RIDERLESS or raw in _LEVELS or not raw.autocommit:
            fairy.close()
            return None
        with riding_on_begin(rider):
            dialect.do_begin(fairy)
    except BaseException:
        fairy.invalidate()
        fairy.close()
        raise
    held = HeldTransaction(fairy, dialect, raw)
    if rider.result is None:  # pragma: no cover - ruled out above
        held.end(commit=False)
        return None
    return held


class _BeginsPinned:
    """What both dialects add to psycopg's: autocommit mode, and our ``BEGIN``."""

    # Read by the ORM guard: a connection of this dialect is pinned by its BEGIN, so the
    # session need not send the pin again.
    pins_at_begin = True
    # Whether a BEGIN may carry a ``Rider`` (its SQL PREPARE needs the same server
    # session throughout: off behind a pooler in transaction mode).
    riders = True
    default_isolation_level: Any

    def _send_begin(self, raw: Driver, message: bytes) -> PGresult:
        raise NotImplementedError

    def _autocommit(self, raw: Driver) -> None:
        """psycopg's autocommit on (it then never sends a BEGIN of its own)."""
        raise NotImplementedError

    def on_connect(self) -> Callable[[Any], None]:
        parent = super().on_connect()  # type: ignore[misc]

        def on_connect(conn: Any) -> None:
            if parent is not None:
                parent(conn)
            raw = driver_of(conn)
            self._autocommit(raw)  # BEGIN is ours: see do_begin
            if self.riders and self._send_begin(raw, _CITUS).ntuples:
                # Citus refuses an SQL-prepared read that joins its distributed tables
                # ("cannot execute a distributed query from a query on a shard").
                _RIDERLESS.add(raw)

        return on_connect

    def _begin(self, raw: Driver, message: bytes) -> None:
        """Begin the transaction with ``message`` (no rows to read)."""
        self._send_begin(raw, message)

    def do_begin(self, dbapi_connection: Any) -> None:
        raw = driver_of(dbapi_connection)
        level = _LEVELS.get(raw)
        if level == "AUTOCOMMIT":
            if isinstance(raw, PinningAsyncConnection):
                raw.begin_before_next_statement(None)  # no transaction, nothing pinned
            return
        message = begin_message(pin_of(current_context()), level, read_only=_READ_ONLY.get())
        if not raw.autocommit:  # pragma: no cover - someone switched psycopg's mode back
            # psycopg will send its own BEGIN first; ours would only warn. Pin after it.
            message = message.partition(b"; ")[2]
            if message:
                self._send_begin(raw, message)
            return
        rider = _RIDER.get()
        if rider is not None and rider.result is None and self.riders and raw not in _RIDERLESS:
            rider.result = self._begin_with(raw, message, rider)
        else:
            self._begin(raw, message)

    def _begin_with(self, raw: Driver, begin: bytes, rider: Rider) -> PGresult:
        """``begin`` and the rider's EXECUTE in one message, its PREPARE first if this
        connection has not run it. A statement psycopg deallocated meanwhile (or one we
        did not know had been prepared) fails the message: the transaction is rolled
        back and begun again, with (or without) the PREPARE."""
        known = _PREPARED.setdefault(raw, set())
        name = rider.read.name
        prepared = name in known
        for attempt in (1, 2):
            parts = (
                [begin, rider.execute] if prepared else [begin, rider.read.prepare, rider.execute]
            )
            try:
                result = self._send_begin(raw, b"; ".join(parts))
            except psycopg.errors.InvalidSqlStatementName:
                if not prepared or attempt == 2:
                    known.discard(name)
                    raise
                prepared = False
            except psycopg.errors.DuplicatePreparedStatement:
                if prepared or attempt == 2:
                    raise
                prepared = True
            except BaseException:
                known.discard(name)  # its PREPARE may or may not have run: find out next time
                raise
            else:
                known.add(name)
                return result
            self._send_begin(raw, b"ROLLBACK")  # the failed transaction, not psycopg's state
        raise AssertionError("unreachable")  # pragma: no cover

    def set_isolation_level(self, dbapi_connection: Any, level: str) -> None:
        raw = driver_of(dbapi_connection)
        if not raw.autocommit:
            self._autocommit(raw)
        if level == "AUTOCOMMIT" or level != self.default_isolation_level:
            _LEVELS[raw] = level
        else:
            _LEVELS.pop(raw, None)

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        level = _LEVELS.get(driver_of(dbapi_connection))
        if level is not None:
            return level
        return super().get_isolation_level(dbapi_connection)  # type: ignore[misc]

    def detect_autocommit_setting(self, dbapi_connection: Any) -> bool:
        return _LEVELS.get(driver_of(dbapi_connection)) == "AUTOCOMMIT"


class TenantryDialect(_BeginsPinned, PGDialect_psycopg):
    """psycopg in autocommit mode; transactions begun (and pinned) in one message."""

    # Compilation works exactly as the parent's: keep SQLAlchemy's statement cache on
    # (each dialect class must say so itself, or every statement is compiled afresh).
    supports_statement_cache = True

    def _send_begin(self, raw: Driver, message: bytes) -> PGresult:
        assert isinstance(raw, psycopg.Connection)
        return send_begin(raw, message)

    def _autocommit(self, raw: Driver) -> None:
        assert isinstance(raw, psycopg.Connection)
        raw.autocommit = True


class TenantryAsyncDialect(_BeginsPinned, PGDialectAsync_psycopg):
    """The same on psycopg's async connection, for SQLAlchemy's greenlet bridge: each
    call below runs inside ``greenlet_spawn`` and waits on the event loop (``await_``)."""

    # Compilation works exactly as the parent's: keep SQLAlchemy's statement cache on
    # (each dialect class must say so itself, or every statement is compiled afresh).
    supports_statement_cache = True

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[TenantryAsyncDialect]:
        # The parent names SQLAlchemy's own async dialect here: without this,
        # create_async_engine would quietly drop ours (and its pinned BEGIN).
        return cls

    def _send_begin(self, raw: Driver, message: bytes) -> PGresult:
        assert isinstance(raw, psycopg.AsyncConnection)
        if isinstance(raw, PinningAsyncConnection):
            raw.begin_before_next_statement(None)  # this message begins it instead
        return await_(send_begin_async(raw, message))

    def _begin(self, raw: Driver, message: bytes) -> None:
        if isinstance(raw, PinningAsyncConnection):
            # Sent inside the first statement's own wait, before that statement: no
            # await of its own (``PinningAsyncConnection``).
            raw.begin_before_next_statement(message)
        else:
            self._send_begin(raw, message)

    def do_rollback(self, dbapi_connection: Any) -> None:
        # The pool rolls back every connection it gets back (reset-on-return), after
        # every commit too: an await of its own (a greenlet switch there and back, a
        # coroutine, psycopg's lock) for psycopg to find the server idle and send
        # nothing. Skipped when there is nothing to roll back or forget.
        raw = driver_of(dbapi_connection)
        if isinstance(raw, PinningAsyncConnection) and raw.idle:
            return
        # PinningAsyncConnection.rollback forgets a pending message
        super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]

    def do_commit(self, dbapi_connection: Any) -> None:
        # The same for a commit the server has already done: a single read's COMMIT
        # rode in its own message (tenantry.db.direct), and psycopg would send nothing.
        raw = driver_of(dbapi_connection)
        if isinstance(raw, PinningAsyncConnection) and raw.idle:
            return
        super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        if pin_in_first_statement():
            cparams.setdefault("async_creator_fn", PinningAsyncConnection.connect)
        if lazy_description():
            cparams.setdefault("cursor_factory", DescribingAsyncCursor)
        return super().connect(*cargs, **cparams)

    def _autocommit(self, raw: Driver) -> None:
        assert isinstance(raw, psycopg.AsyncConnection)
        await_(raw.set_autocommit(True))


registry.register("postgresql.tenantry", __name__, "TenantryDialect")
registry.register("postgresql.tenantry_async", __name__, "TenantryAsyncDialect")


def looks_dead(conn: Driver) -> bool:
    """A pooled, idle connection that cannot serve: closed, broken, or with input waiting.

    An idle connection is sent nothing by a healthy server. A backend that was terminated
    (``pg_terminate_backend``, a restart, a pooler that dropped us) sends its FATAL error
    and closes the socket, so the socket is readable — which one non-blocking ``poll``
    sees, with no round trip. (A peer that vanished without a word is not seen; a
    ``SELECT 1`` would hang on it just the same.)
    """
    if conn.closed or conn.broken:
        return True
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True


def install_liveness_check(engine: Engine) -> None:
    """Replace ``pool_pre_ping``: a checkout that ``looks_dead`` is discarded and retried
    with another connection (SQLAlchemy's pool does that on ``DisconnectionError``)."""

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if looks_dead(driver_of(dbapi_connection)):
            raise exc.DisconnectionError("connection was closed by the server")

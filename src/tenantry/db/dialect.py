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
``BEGIN`` at all.

The pool checks liveness without a round trip (``install_liveness_check``): SQLAlchemy's
``pool_pre_ping`` costs a ``SELECT 1`` per checkout.

Two drivers, one behaviour: ``TenantryDialect`` on psycopg's blocking connection (the
CLI, the job worker, work a request hands to a thread) and ``TenantryAsyncDialect`` on
psycopg's async connection, which request units use on the event loop
(``tenantry.db.loop``). Both begin with the same message in one round trip.
"""

from __future__ import annotations

import select
import weakref
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg, PGDialectAsync_psycopg
from sqlalchemy.engine import URL, Engine
from sqlalchemy.util.concurrency import await_

from tenantry.isolation.context import current_context
from tenantry.isolation.pin import begin_message, pin_of, send_begin, send_begin_async

DRIVERNAME = "postgresql+tenantry"
ASYNC_DRIVERNAME = "postgresql+tenantry_async"

Driver = psycopg.Connection[Any] | psycopg.AsyncConnection[Any]

# Isolation levels asked for per connection (execution option), by psycopg connection.
# Absent: the server's default (plain BEGIN).
_LEVELS: weakref.WeakKeyDictionary[Driver, str] = weakref.WeakKeyDictionary()


def driver_of(dbapi_connection: Any) -> Driver:
    """The psycopg connection behind what SQLAlchemy passes: the pool's proxy, the
    connection itself, or (async) SQLAlchemy's adapter around it."""
    raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)
    raw = getattr(raw, "driver_connection", raw)
    assert isinstance(raw, psycopg.Connection | psycopg.AsyncConnection)
    return raw


class _BeginsPinned:
    """What both dialects add to psycopg's: autocommit mode, and our ``BEGIN``."""

    # Read by the ORM guard: a connection of this dialect is pinned by its BEGIN, so the
    # session need not send the pin again.
    pins_at_begin = True
    default_isolation_level: Any

    def _send_begin(self, raw: Driver, message: bytes) -> None:
        raise NotImplementedError

    def _autocommit(self, raw: Driver) -> None:
        """psycopg's autocommit on (it then never sends a BEGIN of its own)."""
        raise NotImplementedError

    def on_connect(self) -> Callable[[Any], None]:
        parent = super().on_connect()  # type: ignore[misc]

        def on_connect(conn: Any) -> None:
            if parent is not None:
                parent(conn)
            self._autocommit(driver_of(conn))  # BEGIN is ours: see do_begin

        return on_connect

    def do_begin(self, dbapi_connection: Any) -> None:
        raw = driver_of(dbapi_connection)
        level = _LEVELS.get(raw)
        if level == "AUTOCOMMIT":
            return
        message = begin_message(pin_of(current_context()), level)
        if not raw.autocommit:  # pragma: no cover - someone switched psycopg's mode back
            # psycopg will send its own BEGIN first; ours would only warn. Pin after it.
            message = message.partition(b"; ")[2]
            if not message:
                return
        self._send_begin(raw, message)

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

    def _send_begin(self, raw: Driver, message: bytes) -> None:
        assert isinstance(raw, psycopg.Connection)
        send_begin(raw, message)

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

    def _send_begin(self, raw: Driver, message: bytes) -> None:
        assert isinstance(raw, psycopg.AsyncConnection)
        await_(send_begin_async(raw, message))

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

"""Pinning a transaction to its tenant (wall 5's input), in the transaction's first message.

A transaction of the app role starts with one message of our own::

    BEGIN; SET LOCAL app.current_tenant_id = '<uuid>'; SET LOCAL app.current_user_id = '<uuid>'

sent with the simple query protocol, so pinning costs no round trip at all: psycopg
would otherwise send ``BEGIN`` in a round trip of its own, and the pin a second one.
``SET LOCAL`` rather than ``set_config(..., true)`` because it is what Citus propagates
to worker nodes (with ``citus.propagate_set_commands = 'local'``); both end with the
transaction, so a pooled connection never carries a tenant into the next one.

``SET`` takes no bound parameters, so the ids are composed with psycopg's
``sql.Literal`` from values that are already ``uuid.UUID`` (a ``str`` is refused): the
text inside the quotes can only ever be 36 hex digits and dashes.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Generator
from typing import Any

import psycopg
from psycopg import generators, pq, sql
from psycopg.pq.abc import PGresult

from tenantry.isolation.context import TenantContext

TENANT_SETTING = "app.current_tenant_id"
USER_SETTING = "app.current_user_id"
ISOLATION_LEVELS = frozenset(
    {"SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED", "READ UNCOMMITTED"}
)

# The setting names are fixed text of ours; only the values are composed.
_PIN = sql.SQL("SET LOCAL app.current_tenant_id = {}; SET LOCAL app.current_user_id = {}")


def pin_of(ctx: TenantContext | None) -> tuple[uuid.UUID | None, uuid.UUID | None] | None:
    """The (tenant, user) a transaction begun in ``ctx`` is pinned to; ``None``: not pinned.

    No context and the system scope pin nothing: the settings stay unset, so RLS shows
    the app role zero rows (the system scope runs as the migrator, BYPASSRLS).
    """
    if ctx is None or ctx.scope == "system":
        return None
    return ctx.tenant_id, ctx.user_id


def _literal(value: uuid.UUID | None) -> sql.Composable:
    if value is None:
        return sql.Literal("")  # unset: the policy's NULLIF maps '' to NULL, zero rows
    if not isinstance(value, uuid.UUID):
        raise TypeError(f"a pinned id must be a uuid.UUID, not {type(value).__name__}")
    return sql.Literal(str(value))


@functools.lru_cache(maxsize=8192)
def pin_statement(tenant_id: uuid.UUID | None, user_id: uuid.UUID | None) -> bytes:
    """``SET LOCAL`` of both settings, for a transaction that is already open."""
    return _PIN.format(_literal(tenant_id), _literal(user_id)).as_bytes(None)


@functools.lru_cache(maxsize=8192)
def begin_message(
    pin: tuple[uuid.UUID | None, uuid.UUID | None] | None,
    isolation: str | None = None,
    *,
    read_only: bool = False,
) -> bytes:
    """``BEGIN`` (with an isolation level and ``READ ONLY`` if asked), then the pin if
    there is one.

    Cached: a tenant's message is the same bytes every time, and composing costs more
    than the rest of beginning a transaction.
    """
    modes = []
    if isolation is not None:
        if isolation not in ISOLATION_LEVELS:
            raise ValueError(f"unknown isolation level {isolation!r}")
        modes.append(b"ISOLATION LEVEL " + isolation.encode())
    if read_only:
        modes.append(b"READ ONLY")
    begin = (b"BEGIN " + b", ".join(modes)) if modes else b"BEGIN"
    if pin is None:
        return begin
    return begin + b"; " + pin_statement(*pin)


def send_begin(connection: psycopg.Connection[Any], message: bytes) -> PGresult:
    """Send a ``begin_message`` on ``connection`` in one round trip, straight through libpq.

    ``Connection.execute`` would build a cursor, consult its prepared-statement cache and
    turn the three results into Python objects nobody reads: ~15 µs of client CPU on
    every transaction (bench/README.md, "isolation_overhead", session 7). ``PGconn.exec_``
    (libpq's ``PQexec``, which releases the GIL while it waits) sends the same bytes with
    the simple query protocol and returns the last result — the first error, if a
    statement failed, since the server then skips the rest of the message. Returned: a
    message may end with a query whose rows the caller reads (``tenantry.db.dialect``'s
    rider).
    """
    with connection.lock:
        result = connection.pgconn.exec_(message)
    return _raise_unless_ok(result, connection.info.encoding)


async def send_begin_async(connection: psycopg.AsyncConnection[Any], message: bytes) -> PGresult:
    """``send_begin`` on psycopg's async connection: the same bytes as one simple-protocol
    message (one round trip), waited for on the event loop instead of inside libpq.

    ``generators.execute`` is what psycopg's own ``BEGIN``/``COMMIT`` go through; a cursor
    would cost what ``send_begin`` avoids."""
    async with connection.lock:
        connection.pgconn.send_query(message)
        results = await connection.wait(generators.execute(connection.pgconn))
    return _raise_unless_ok(results[-1], connection.info.encoding)


_OK = frozenset({pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK})


def _raise_unless_ok(result: PGresult, encoding: str) -> PGresult:
    if result.status not in _OK:
        raise psycopg.errors.error_from_result(result, encoding=encoding)
    return result


# ---- the BEGIN message sent inside the transaction's first statement -----------------

IN_STATEMENT_ENV = "TENANTRY_PIN_IN_FIRST_STATEMENT"
# psycopg internals ``PinningAsyncConnection`` overrides or calls (3.3's): with another
# psycopg, or without any of them, the dialect sends its BEGIN message on its own.
_PSYCOPG_SERIES = ("3.3.",)
_PSYCOPG_INTERNALS = ("_start_query", "_exec_command", "_check_connection_ok")


class PinningAsyncConnection(psycopg.AsyncConnection[Any]):
    """psycopg's async connection that sends a pending ``begin_message`` as the first
    thing its next statement does, in that statement's own wait.

    ``send_begin_async`` costs a wait of its own: from a request's greenlet, an
    ``await_`` (a greenlet switch there and back), a coroutine, psycopg's lock and a
    ``wait`` — ~42 Python calls per transaction more than psycopg's own ``BEGIN``, which
    runs inside the first statement's generator (``_start_query``; bench/README.md,
    isolation_overhead session 9). Here the pinned message takes the place of
    psycopg's ``BEGIN``: ``begin_before_next_statement`` leaves it pending, and the
    next cursor operation (execute, executemany, copy, a server-side cursor's
    DECLARE: each starts with ``_start_query``) sends it and checks every result
    before it sends its own statement. The round trips are the same; the pin still
    reaches the server before any statement of the transaction.

    Fail closed: the pending message is dropped only once the server accepted all of
    it, so after a failed pin no statement runs unpinned (the next one sends it again;
    in a transaction the failure aborted, the server refuses it). ``commit`` and
    ``rollback`` drop it too: a transaction that ran no statement sent nothing and
    leaves nothing for the next one (psycopg sends no COMMIT when the server is idle).
    """

    _tenantry_begin: bytes | None = None

    def begin_before_next_statement(self, message: bytes | None) -> None:
        """``message`` (a ``begin_message``) goes out before the next statement, or
        nothing (``None``: the caller began the transaction itself, or runs none)."""
        self._tenantry_begin = message

    @property
    def begin_pending(self) -> bool:
        return self._tenantry_begin is not None

    def _start_query(self) -> Generator[Any, Any, None]:
        message = self._tenantry_begin
        if message is None:
            yield from super()._start_query()  # autocommit: psycopg sends nothing
            return
        if self._pipeline:
            # executemany runs in pipeline mode, which takes no simple-protocol message:
            # the message's statements one by one (each ours, see begin_message: none
            # contains "; "), then a sync, as psycopg does with its own BEGIN.
            for statement in message.split(b"; "):
                yield from self._exec_command(statement)
            yield from self._pipeline._sync_gen()
        else:
            self._check_connection_ok()
            self.pgconn.send_query(message)
            results = yield from generators.execute(self.pgconn)
            for result in results:  # the first error: the server skips the rest of it
                if result.status not in _OK:
                    raise psycopg.errors.error_from_result(result, encoding=self.pgconn._encoding)
        self._tenantry_begin = None

    async def commit(self) -> None:
        self._tenantry_begin = None
        await super().commit()

    async def rollback(self) -> None:
        self._tenantry_begin = None
        await super().rollback()

    @property
    def idle(self) -> bool:
        """No transaction open and nothing pending: a rollback would send nothing
        (psycopg's own ``rollback`` returns at once when the server says idle outside
        a pipeline), so the pool's reset-on-return may skip it and its await."""
        return (
            self._tenantry_begin is None
            and self._pipeline is None
            and self.pgconn.transaction_status == pq.TransactionStatus.IDLE
        )


def pin_in_first_statement() -> bool:
    """Whether app connections send the BEGIN message inside the first statement's wait
    (``PinningAsyncConnection``): this psycopg has the internals it relies on, and
    ``TENANTRY_PIN_IN_FIRST_STATEMENT`` is not ``off``."""
    if os.environ.get(IN_STATEMENT_ENV, "on").strip().lower() in ("off", "0", "false", "no"):
        return False
    return psycopg.__version__.startswith(_PSYCOPG_SERIES) and all(
        hasattr(psycopg.AsyncConnection, name) for name in _PSYCOPG_INTERNALS
    )

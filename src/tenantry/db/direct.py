"""A hot tenant read without SQLAlchemy's execution: the guard's statement on the driver.

A request that reads one row by id (``GET /api/admin/bookings/{id}``) spent about half of
its database unit in SQLAlchemy's ORM execution around a statement the driver sends in a
fraction of that: the ``do_orm_execute`` dispatch, the compiled-cache lookup, an execution
context, result metadata, the loader rebuilt per execution, an instance, its state and
the identity map (bench/README.md, api_throughput, session 12). ``first_row`` skips that
layer and keeps every wall:

- **the ORM guard (wall 4)** decides: ``guard.scoped_read`` returns the statement with the
  guard's tenant criterion (the very copy ``do_orm_execute`` sends for a tenant read), or
  ``None`` when the guard would do anything else with it (no tenant context, the system
  scope, a session without the guard) — then the statement runs through the session, where
  the guard's events refuse or scope it as always. The criterion's tenant is bound from
  the context when the statement runs (``guard._context_tenant``, which refuses without one);
- **row-level security (wall 5)** and **the pin**: the statement runs on the session's own
  connection, in its transaction, begun (and pinned) by ``session.connection()`` like any
  other statement of the session, after the request's deferred access check.

The statement is compiled once per dialect by SQLAlchemy itself (its SQL and parameter
names are the ones SQLAlchemy sends), with bind and result processing applied as
SQLAlchemy would; a statement whose compiled form needs more (expanding parameters,
positional binds, schema translation) runs through the session. Engine events are
honoured: with a cursor-execute listener on the engine (OpenTelemetry's instrumentation)
the statement runs through the session, so it keeps its span. A driver error is raised as
SQLAlchemy's ``DBAPIError`` subclass, and a connection it left broken is invalidated, as
SQLAlchemy does. Not kept: the row does not enter the session's identity map (a read that
needs the object, or writes it, uses the repository's ``get``).

**A single read ends its transaction.** When the request's endpoint promised that its
whole unit is this one read (``tenantry.db.unit.single_read``), its transaction was begun
``READ ONLY`` and the read is sent with ``COMMIT`` in the same simple-protocol message
(psycopg's client-side binding quotes the values): an authenticated read by id then costs
two round trips (``BEGIN`` + pin + access check; the read + ``COMMIT``) where the bare
endpoint takes four. The session's own commit then sends nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, exc
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.util.concurrency import await_

from tenantry.db.dialect import HeldTransaction
from tenantry.db.unit import unit_of
from tenantry.isolation.guard import scoped_read

Processor = Callable[[Any], Any] | None


class _Plan:
    """One guarded statement compiled for one dialect, as the driver takes it."""

    __slots__ = ("_compiled", "binds", "escaped", "keys", "results", "sql", "sql_and_commit")

    def __init__(self, compiled: Any, keys: Sequence[str]) -> None:
        self.sql: str = compiled.string
        # The read and its transaction's end in one simple-protocol message.
        self.sql_and_commit = self.sql + "; COMMIT"
        self.keys = tuple(keys)
        self.binds: Mapping[str, Any] = compiled._bind_processors
        self.escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        # Result processors need the driver's type codes: set on the first execution.
        self.results: tuple[Processor, ...] | None = None
        self._compiled = compiled

    def parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The driver's parameters, as SQLAlchemy's execution context builds them: the
        compiled binds' values (the guard's tenant read from the context now), processed."""
        values = self._compiled.construct_params(dict(given), escape_names=False)
        binds, escaped = self.binds, self.escaped
        return {
            escaped.get(key, key): binds[key](value) if binds.get(key) else value
            for key, value in values.items()
        }

    def result_processors(self, dialect: Dialect, description: Any) -> tuple[Processor, ...]:
        if self.results is None:
            columns = self._compiled._result_columns
            self.results = tuple(
                column[3]._cached_result_processor(dialect, field.type_code)
                for column, field in zip(columns, description, strict=True)
            )
        return self.results


# (guarded statement, dialect class) -> its plan, or None: run through the session.
_PLANS: weakref.WeakKeyDictionary[Any, dict[type, _Plan | None]] = weakref.WeakKeyDictionary()


def _plan(guarded: Any, statement: Select[Any], dialect: Dialect) -> _Plan | None:
    per_dialect = _PLANS.setdefault(guarded, {})
    kind = type(dialect)
    if kind not in per_dialect:
        _columns_only(statement)
        compiled: Any = guarded.compile(dialect=dialect)
        simple = not (
            compiled.positional
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.schema_translate_map
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or any(isinstance(p, Sequence) for p in compiled._bind_processors.values())
            or len(compiled._result_columns) != len(statement.selected_columns)
        )
        keys = [described["name"] for described in statement.column_descriptions]
        per_dialect[kind] = _Plan(compiled, keys) if simple else None
    return per_dialect[kind]


def _columns_only(statement: Select[Any]) -> None:
    for described in statement.column_descriptions:
        if isinstance(described["expr"], type):
            raise TypeError("first_row reads columns, not entities: select the model's columns")


def first_row(
    session: Session, statement: Select[Any], params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The first row of a column ``statement`` (``select(Model.a, Model.b)``, never an
    entity) as a mapping of column names to values, or ``None``: what
    ``session.execute(statement, params).mappings().first()`` returns, scoped by the same
    guard, without SQLAlchemy's execution when the guard scopes it to the tenant."""
    guarded = scoped_read(session, statement, params)
    if guarded is None:
        return _through_session(session, statement, params)
    unit = unit_of(session)
    held = unit.take_held() if unit is not None else None
    if held is not None:
        return _read_held(held, session, guarded, statement, params)
    # The statement's bind (a session with per-model binds picks by its entity), begun
    # (and pinned) if the transaction was not.
    connection = session.connection(bind_arguments={"clause": statement})
    plan = _plan(guarded, statement, connection.dialect)
    if plan is None or _has_cursor_events(connection):
        return _through_session(session, statement, params)
    values = plan.parameters(params)
    raw = connection.connection.driver_connection
    if unit is not None and unit.commits_with_read(session):
        row = _fetch_first(raw, connection.dialect, connection.invalidate, plan, values, True)
        session.commit()  # the server has committed: SQLAlchemy's side of it, no message
    else:
        row = _fetch_first(raw, connection.dialect, connection.invalidate, plan, values)
    return None if row is None else dict(zip(plan.keys, row, strict=True))


def _read_held(
    held: HeldTransaction,
    session: Session,
    guarded: Any,
    statement: Select[Any],
    params: Mapping[str, Any],
) -> Mapping[str, Any] | None:
    """The unit's single read on the transaction it holds, with its COMMIT; the
    connection goes back to the pool either way. A statement that cannot be sent
    directly ends that transaction (only the access check ran in it) and goes through
    the session, in a transaction of its own, pinned and READ ONLY like the first."""
    plan = _plan(guarded, statement, held.dialect)
    if plan is None:
        held.end(commit=True)
        return _through_session(session, statement, params)
    values = plan.parameters(params)
    try:
        row = _fetch_first(held.driver, held.dialect, held.invalidate, plan, values, True)
    except BaseException:
        held.end(commit=False)
        raise
    held.end(commit=True)  # the server committed with the read: nothing is sent
    return None if row is None else dict(zip(plan.keys, row, strict=True))


def _through_session(
    session: Session, statement: Select[Any], params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    _columns_only(statement)
    found = session.execute(statement, dict(params)).mappings().first()
    return None if found is None else dict(found)


def _has_cursor_events(connection: Connection) -> bool:
    # SQLAlchemy's own test first (two attribute reads): no engine event at all.
    if not (connection._has_events or connection.engine._has_events):
        return False
    dispatch: Any = connection.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def _fetch_first(
    raw: Any,
    dialect: Dialect,
    invalidate: Callable[[BaseException], None],
    plan: _Plan,
    values: dict[str, Any],
    commit: bool = False,
) -> Any:
    """The plan's first row on the psycopg connection ``raw``; with ``commit``, the read
    and ``COMMIT`` go in one message (psycopg's client-side binding: simple protocol, the
    values quoted by psycopg's adapters), so the transaction ends in the read's round
    trip. A connection the error left broken is ``invalidate``d."""
    try:
        if isinstance(raw, psycopg.AsyncConnection):
            if commit:
                cursor: Any = psycopg.AsyncClientCursor(raw)
                await_(cursor.execute(plan.sql_and_commit, values))
            else:
                cursor = await_(raw.execute(plan.sql, values))
            row = await_(cursor.fetchone())
        else:
            assert isinstance(raw, psycopg.Connection)
            if commit:
                cursor = psycopg.ClientCursor(raw)
                cursor.execute(plan.sql_and_commit, values)
            else:
                cursor = raw.execute(plan.sql, values)
            row = cursor.fetchone()
    except psycopg.Error as error:
        broken = bool(raw.broken or raw.closed)
        if broken:
            invalidate(error)
        raise exc.DBAPIError.instance(
            plan.sql,
            values,
            error,
            psycopg.Error,
            connection_invalidated=broken,
            dialect=dialect,
        ) from error
    if row is None:
        return None
    processors = plan.results
    if processors is None:
        processors = plan.result_processors(dialect, cursor.description)
    if any(processors):
        row = tuple(p(v) if p else v for p, v in zip(processors, row, strict=True))
    return row

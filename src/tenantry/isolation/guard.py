"""The ORM guard (wall 4): SQLAlchemy session events that scope tenant-owned models.

* Every ORM SELECT, UPDATE and DELETE that mentions a tenant-owned model anywhere —
  result columns, ``select_from``, joins, subqueries, ``exists``, relationship loads,
  aliases — gets ``tenant_id = <context tenant>`` on every tenant-owned entity it reads
  (``with_loader_criteria``). ``select(func.count()).select_from(Model)`` included.
* New tenant-owned objects get the context's ``tenant_id``; an object whose
  ``tenant_id`` differs from the context is refused on insert, update, delete and
  refresh, and ``tenant_id`` itself never changes.
* ORM ``insert(Model)`` / bulk ``update(Model)`` statements, which skip the unit of
  work, are checked the same way (missing ``tenant_id`` on insert is filled in).
* Any ORM statement on a tenant-owned model without a tenant context raises
  ``TenantContextMissing`` — fail closed, never "all tenants". Statements the guard
  cannot pin (ORM over ``text()``, ``INSERT ... SELECT``) raise ``UnscopableStatement``.
* Inside an explicit system scope the guard steps aside (audited on entry).
* A hot read sent without SQLAlchemy's execution (``tenantry.db.direct``, a booking read
  by id) sends the statement ``scoped_read`` hands it: the same criterion, the same
  tenant parameter bound from the context; anything else goes through the session.

Known bypasses, covered by row-level security (wall 5) alone: raw SQL (``text()``) on
a connection, and Core statements on bare tables (``Model.__table__``), which carry no
ORM entity. Also: a session's identity map is not re-checked by ``Session.get`` —
never reuse one session across a system scope and a tenant scope.
Mode ``log`` reports instead of refusing, for rollouts.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Mapping
from typing import Any, Literal

import psycopg
import structlog
from sqlalchemy import Uuid, bindparam, event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria
from sqlalchemy.orm.context import FromStatement
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter, ClauseElement

from tenantry.errors import InternalError, NotFound, TenantryError
from tenantry.isolation.context import (
    TenantContext,
    TenantContextMissing,
    TenantMismatch,
    current_context,
)
from tenantry.isolation.owned import TenantScoped
from tenantry.isolation.pin import pin_of, pin_statement

_log = structlog.get_logger("tenantry.guard")

GuardMode = Literal["enforce", "log"]


class CrossTenantWrite(NotFound):
    """A write to another tenant's row: answered exactly as a row that does not exist."""


class UnscopableStatement(InternalError):
    """An ORM statement on a tenant model whose rows the guard cannot pin to the tenant
    (``from_statement(text(...))``, ``INSERT ... SELECT``). Use a repository query, or
    an explicit system scope."""

    code = "unscopable_statement"
    message = "This statement cannot be scoped to the tenant."


def is_tenant_owned(cls: type) -> bool:
    return bool(getattr(cls, "__tenant_owned__", False))


class GuardedSession(Session):
    """A session whose statements are scoped to the current tenant context."""

    guard_mode: GuardMode = "enforce"


class LoggingGuardedSession(GuardedSession):
    """The guard in ``log`` mode: violations are reported, not refused (rollouts only).

    A subclass rather than a flag on ``GuardedSession`` so one ``Database`` in log mode
    never switches the sessions of another to it. The event listeners registered on
    ``GuardedSession`` apply to this subclass too.
    """

    guard_mode: GuardMode = "log"


def session_class(mode: GuardMode) -> type[GuardedSession]:
    return LoggingGuardedSession if mode == "log" else GuardedSession


def _violation(session: Session, error: TenantryError, **fields: Any) -> None:
    mode = getattr(session, "guard_mode", "enforce")
    _log.warning("guard_violation", code=error.code, mode=mode, **fields)
    if mode == "enforce":
        raise error


def _context_tenant() -> uuid.UUID:
    """The value of the guard's tenant parameter, read when the statement executes.

    Read from the same context the guard checked a moment earlier in ``do_orm_execute``
    (same thread, same call). A tenant parameter reached with no tenant context — only
    possible through loader options propagated from a tenant query into a later load in
    another scope — fails closed instead of binding anything.
    """
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None or ctx.scope == "system":
        raise TenantContextMissing()
    return ctx.tenant_id


# The guard's tenant parameter: one object, bound per execution from the context
# (``callable_``), so the option below is one constant for every tenant and statement.
# Its cache key never changes and it carries no per-statement value: the earlier form
# (a lambda closing over the tenant id, one option per tenant) made SQLAlchemy extract
# that value from each statement and match it to the cached statement's parameters —
# comparing annotated bind parameters with ``==``, which builds SQL expressions — about
# 40 µs of client CPU per statement (bench/README.md, isolation_overhead, session 7).
GUARD_PARAMETER = "tenantry_guard_tenant_id"
_TENANT = bindparam(GUARD_PARAMETER, callable_=_context_tenant, type_=Uuid(), unique=False)
_CRITERIA = with_loader_criteria(
    TenantScoped,
    lambda cls: cls.tenant_id == _TENANT,
    include_aliases=True,
    track_closure_variables=False,
)


# A statement executed again and again (a repository's prebuilt by-id select) gets the
# same guarded copy back: a fresh copy per execution had to have its cache key computed
# from scratch (a walk of the whole statement, ~15 µs). Safe to share between tenants
# because the criterion holds no tenant (see _TENANT). Keyed weakly by the statement
# object itself (identity: statements compare by identity), so an entry lives exactly
# as long as the statement it was made from.
_GUARDED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _guarded(statement: Any) -> Any:
    guarded = _GUARDED.get(statement)
    if guarded is None:
        guarded = _GUARDED[statement] = statement.options(_CRITERIA)
    return guarded


def scoped_read(session: Session, statement: Any, params: Mapping[str, Any]) -> Any | None:
    """The statement this guard would send for ``statement`` read on ``session`` in the
    current tenant (the tenant criterion added, as ``_scope_statement`` does), for a
    caller that sends it without SQLAlchemy's execution (``tenantry.db.direct``); or
    ``None`` when the guard would do anything else — no tenant context, the system scope,
    a session without the guard, a statement that is not a plain SELECT — and the caller
    must run it through the session, whose events refuse or scope it as always.
    A value given for the guard's own parameter is refused, as ``_scope_statement``
    refuses it."""
    if GUARD_PARAMETER in params:
        raise UnscopableStatement()
    if not isinstance(session, GuardedSession) or not getattr(statement, "is_select", False):
        return None
    ctx = current_context()
    if ctx is None or ctx.tenant_id is None or ctx.scope == "system":
        return None
    return _guarded(statement)


def _names_guard_parameter(parameters: Any) -> bool:
    rows = parameters if isinstance(parameters, list) else (parameters,)
    return any(GUARD_PARAMETER in row for row in rows)


def _tenant_models_in(state: ORMExecuteState) -> list[str]:
    """Every tenant-owned ORM entity the statement mentions, at any depth.

    ``state.all_mappers`` alone is not enough: it lists only the entities that come
    back as result columns, so ``select(func.count()).select_from(Service)``,
    ``select(literal(1)).select_from(Service)``, ``select(exists().where(...))`` and a
    select over a subquery report none — and were neither scoped nor refused.
    Bare Core tables (``Model.__table__``) carry no ORM annotation and are not found
    here on purpose: that is the documented RLS-only path.
    """
    found = {m.class_.__name__ for m in state.all_mappers if is_tenant_owned(m.class_)}
    statement: Any = state.statement
    for element in visitors.iterate(statement):
        annotations = getattr(element, "_annotations", None)
        mapper = annotations.get("parentmapper") if annotations else None
        if mapper is not None and is_tenant_owned(mapper.class_):
            found.add(mapper.class_.__name__)
    return sorted(found)


@event.listens_for(GuardedSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    raw = isinstance(state.statement, FromStatement)  # reports is_select False
    if not (raw or state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    if state.parameters and _names_guard_parameter(state.parameters):
        # A value given for the guard's own parameter would replace the context's
        # tenant in the filter: refused, whatever the mode.
        raise UnscopableStatement()
    ctx = current_context()
    if (
        state.is_select
        and ctx is not None
        and ctx.tenant_id is not None
        and ctx.scope != "system"
        and not state.is_column_load
    ):
        # Hot path: a read inside a tenant. Pin it without first working out which
        # tenant-owned models it mentions — the option applies to every one of them
        # and is a no-op for global models — which saves walking the statement tree.
        state.statement = _guarded(state.statement)
        return
    owned = _tenant_models_in(state)
    if not owned:
        return
    if ctx is not None and ctx.scope == "system":
        return
    if state.is_column_load:
        _check_refresh(state, ctx, owned)
        return
    if ctx is None or ctx.tenant_id is None:
        _violation(state.session, TenantContextMissing(), models=owned)
        return
    if raw:
        # ORM entities over hand-written SQL: the criteria cannot reach into the text.
        _violation(state.session, UnscopableStatement(), models=owned)
        return
    if state.is_insert:
        _check_insert(state, ctx.tenant_id, owned)
        return
    if state.is_update:
        _check_update_values(state, ctx.tenant_id, owned)
    state.statement = state.statement.options(_CRITERIA)


def _check_refresh(state: ORMExecuteState, ctx: TenantContext | None, owned: list[str]) -> None:
    """Refresh, expired and deferred attribute loads of one object already in the session.

    SQLAlchemy never applies ``with_loader_criteria`` to these (by design), so the guard
    compares the object's own tenant with the context instead: an object of another
    tenant held by this session must not be re-read in this tenant's name. With no
    tenant context the load is let through: it re-reads, by its full ``(tenant_id, id)``
    key, a row the caller already holds, and refusing would break reading server-set
    values after a unit of work.
    """
    if ctx is None or ctx.tenant_id is None:
        return
    refresh_state = state.load_options._refresh_state
    if refresh_state is None or refresh_state.key is None:
        return
    mapper = refresh_state.mapper
    identity = refresh_state.key[1]
    names = [mapper.get_property_by_column(col).key for col in mapper.primary_key]
    row_tenant = identity[names.index("tenant_id")] if "tenant_id" in names else None
    if row_tenant != ctx.tenant_id:
        _violation(
            state.session,
            TenantMismatch(),
            models=owned,
            op="refresh",
            context_tenant=str(ctx.tenant_id),
            row_tenant=str(row_tenant),
        )


def _tenant_value(value: Any) -> tuple[bool, Any]:
    """(known, value) of a tenant_id given to INSERT/UPDATE; unknown for SQL expressions."""
    if isinstance(value, BindParameter):
        if value.callable is not None:
            return False, None
        value = value.value
    if isinstance(value, ClauseElement):
        return False, None
    return True, value


def _same_tenant(value: Any, tenant_id: uuid.UUID) -> bool:
    known, value = _tenant_value(value)
    if not known or value is None:
        return False
    try:
        return uuid.UUID(str(value)) == tenant_id
    except ValueError:
        return False


def _tenant_key(values: Any) -> Any:
    """The tenant_id entry of a statement's values dict (keys are columns or names)."""
    for key, value in values.items():
        if getattr(key, "key", key) == "tenant_id":
            return key, value
    return None, None


def _check_insert(state: ORMExecuteState, tenant_id: uuid.UUID, owned: list[str]) -> None:
    """ORM ``insert(Model)`` skips the flush, so ``before_flush`` never sees its rows."""
    stmt: Any = state.statement
    refused = CrossTenantWrite()
    if stmt.select is not None:
        # INSERT ... SELECT: the tenant of each row is only known to the database.
        _violation(state.session, UnscopableStatement(), models=owned, op="insert_from_select")
        return
    for row in stmt._multi_values[0] if stmt._multi_values else ():
        _, value = _tenant_key(row)
        if not _same_tenant(value, tenant_id):
            _violation(state.session, refused, models=owned, op="insert")
            return
    key, value = _tenant_key(stmt._values or {})
    if key is not None and not _same_tenant(value, tenant_id):
        _violation(state.session, refused, models=owned, op="insert")
        return
    params: Any = state.parameters
    rows: list[dict[str, Any]] = params if isinstance(params, list) else [params] if params else []
    if any("tenant_id" in row and not _same_tenant(row["tenant_id"], tenant_id) for row in rows):
        _violation(state.session, refused, models=owned, op="insert")
        return
    if key is None and not stmt._multi_values:
        if rows:
            filled = [{**row, "tenant_id": row.get("tenant_id", tenant_id)} for row in rows]
            state.parameters = filled if isinstance(params, list) else filled[0]
        else:
            state.statement = stmt.values(tenant_id=tenant_id)


def _check_update_values(state: ORMExecuteState, tenant_id: uuid.UUID, owned: list[str]) -> None:
    """Refuse ``update(Model).values(tenant_id=...)`` (re-tenanting) and bulk-by-key
    parameter sets that name another tenant's rows."""
    stmt: Any = state.statement
    key, value = _tenant_key(stmt._values or {})
    if key is not None and not _same_tenant(value, tenant_id):
        _violation(
            state.session,
            CrossTenantWrite("Tenant of a row cannot change."),
            models=owned,
            op="retenant",
        )
        return
    params: Any = state.parameters
    rows: list[dict[str, Any]] = params if isinstance(params, list) else []
    if any("tenant_id" in row and not _same_tenant(row["tenant_id"], tenant_id) for row in rows):
        _violation(state.session, CrossTenantWrite(), models=owned, op="update")


@event.listens_for(GuardedSession, "before_flush")
def _check_writes(session: Session, flush_context: Any, instances: Any) -> None:
    ctx = current_context()
    if ctx is not None and ctx.scope == "system":
        return
    pending = (("insert", session.new), ("update", session.dirty), ("delete", session.deleted))
    for kind, objs in pending:
        for obj in objs:
            if not is_tenant_owned(type(obj)):
                continue
            _check_one(session, ctx, kind, obj)


def _check_one(session: Session, ctx: TenantContext | None, kind: str, obj: Any) -> None:
    model = type(obj).__name__
    if ctx is None or ctx.tenant_id is None:
        _violation(session, TenantContextMissing(), models=[model], op=kind)
        return
    if kind == "insert" and obj.tenant_id is None:
        obj.tenant_id = ctx.tenant_id
        return
    if kind == "update":
        history = inspect(obj).attrs.tenant_id.history
        if history.deleted and history.deleted[0] is not None:
            _violation(
                session,
                CrossTenantWrite("Tenant of a row cannot change."),
                model=model,
                op="retenant",
            )
            return
    if obj.tenant_id != ctx.tenant_id:
        _violation(
            session,
            CrossTenantWrite(),
            model=model,
            op=kind,
            context_tenant=str(ctx.tenant_id),
            row_tenant=str(obj.tenant_id),
        )


@event.listens_for(GuardedSession, "after_begin")
def _set_transaction_tenant(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    """Wall 5's input: pin the transaction to the context's tenant and user.

    On the app's own engines (``tenantry.db.dialect``) the transaction's BEGIN already
    carried the pin, read from the same context a moment ago: nothing to send. On any
    other engine the pin is sent now, as ``SET LOCAL`` — one more round trip.
    """
    pin = pin_of(current_context())
    if pin is None or getattr(connection.dialect, "pins_at_begin", False):
        return
    pin_transaction(connection, tenant_id=pin[0], user_id=pin[1])


def pin_transaction(
    connection: Connection, *, tenant_id: uuid.UUID | None, user_id: uuid.UUID | None
) -> None:
    """``SET LOCAL`` the tenant and user settings for the open transaction.

    Transaction-local, so a pooled connection never carries a tenant into the next
    transaction. Sent on the driver's connection: SQLAlchemy's statement machinery
    roughly doubled the client-side cost of this one round trip.
    """
    statement = pin_statement(tenant_id, user_id)
    driver = connection.connection.driver_connection
    if isinstance(driver, psycopg.Connection):
        driver.execute(statement, prepare=False)
        return
    connection.exec_driver_sql(statement.decode())

"""The ORM guard (wall 4): SQLAlchemy session events that scope tenant-owned models.

* Every ORM SELECT, UPDATE and DELETE that touches a tenant-owned model gets
  ``tenant_id = <context tenant>`` on every tenant-owned entity it reads — joins,
  subqueries, relationship loads and aliases included (``with_loader_criteria``).
* New tenant-owned objects get the context's ``tenant_id``; an object whose
  ``tenant_id`` differs from the context is refused on insert, update and delete.
* Any ORM statement on a tenant-owned model without a tenant context raises
  ``TenantContextMissing`` — fail closed, never "all tenants".
* Inside an explicit system scope the guard steps aside (audited on entry).

Raw SQL (``text()``) and Core statements on bare tables are not seen here; row-level
security (wall 5) covers them. Mode ``log`` reports instead of refusing, for rollouts.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import structlog
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, with_loader_criteria

from tenantry.errors import TenantryError
from tenantry.isolation.context import TenantContext, TenantContextMissing, current_context

_log = structlog.get_logger("tenantry.guard")

GuardMode = Literal["enforce", "log"]


class CrossTenantWrite(TenantryError):
    status_code = 404
    code = "not_found"
    message = "Not found."


class _Marker:
    """Stands for every tenant-owned model in ``with_loader_criteria``."""


def is_tenant_owned(cls: type) -> bool:
    return bool(getattr(cls, "__tenant_owned__", False))


class GuardedSession(Session):
    """A session whose statements are scoped to the current tenant context."""

    guard_mode: GuardMode = "enforce"


def _violation(session: Session, error: TenantryError, **fields: Any) -> None:
    mode = getattr(session, "guard_mode", "enforce")
    _log.warning("guard_violation", code=error.code, mode=mode, **fields)
    if mode == "enforce":
        raise error


def _tenant_criteria(tenant_id: uuid.UUID) -> Any:
    from tenantry.db.base import TenantOwned

    return with_loader_criteria(
        TenantOwned,
        lambda cls: cls.tenant_id == tenant_id,
        include_aliases=True,
        track_closure_variables=True,
    )


@event.listens_for(GuardedSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load:
        return
    owned = [m.class_.__name__ for m in state.all_mappers if is_tenant_owned(m.class_)]
    if not owned:
        return
    ctx = current_context()
    if ctx is not None and ctx.scope == "system":
        return
    if ctx is None or ctx.tenant_id is None:
        _violation(state.session, TenantContextMissing(), models=owned)
        return
    state.statement = state.statement.options(_tenant_criteria(ctx.tenant_id))


@event.listens_for(GuardedSession, "before_flush")
def _check_writes(session: Session, flush_context: Any, instances: Any) -> None:
    ctx = current_context()
    if ctx is not None and ctx.scope == "system":
        return
    for kind, objs in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
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

    ``set_config(..., true)`` is transaction-local, so a pooled connection never
    carries a tenant into the next transaction. One round trip per transaction.
    """
    ctx = current_context()
    if ctx is None or ctx.scope == "system":
        return
    connection.execute(
        text(
            "select set_config('app.current_tenant_id', :tenant_id, true),"
            " set_config('app.current_user_id', :user_id, true)"
        ),
        {
            "tenant_id": str(ctx.tenant_id) if ctx.tenant_id else "",
            "user_id": str(ctx.user_id) if ctx.user_id else "",
        },
    )

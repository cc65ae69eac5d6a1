"""Expenses: ``/api/admin/expenses`` (record, list, approve, reject)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.expenses import service
from tenantry.expenses.schemas import ExpenseCreate, ExpenseOut, ExpenseStatus
from tenantry.isolation.context import TenantContext
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.dependencies import RequirePermission
from tenantry.routing import tenant_router

ExpensesRead = Annotated[TenantContext, Depends(RequirePermission("expenses.read"))]
ExpensesWrite = Annotated[TenantContext, Depends(RequirePermission("expenses.write"))]
ExpensesApprove = Annotated[TenantContext, Depends(RequirePermission("expenses.approve"))]

_ERROR = {"description": 'Error (`{"error": {"code", "message", "request_id"}}`).'}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {401: _ERROR, 403: _ERROR, 422: _ERROR}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {**_READ_ERRORS, 404: _ERROR, 409: _ERROR}

router = tenant_router(prefix="/api/admin/expenses", tags=["expenses"])


@router.get("", response_model=Page[ExpenseOut], responses=_READ_ERRORS)
def list_expenses(
    ctx: ExpensesRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[ExpenseStatus | None, Query(description="Only this status.")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Only this member's.")] = None,
) -> Page[ExpenseOut]:
    """The tenant's expenses, most recently incurred first; `submitted` ones await approval."""
    rows, total = service.list_expenses(
        session=session, status=status, user_id=user_id, limit=page.limit, offset=page.offset
    )
    return Page[ExpenseOut](
        items=[ExpenseOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", response_model=ExpenseOut, status_code=201, responses=_WRITE_ERRORS)
def record_expense(ctx: ExpensesWrite, session: TenantSession, body: ExpenseCreate) -> ExpenseOut:
    """Record an expense for the caller.

    Amounts up to the tenant's `thresholds.expense_approval_cents` are approved at
    once; above it the expense stays `submitted` until approved or rejected.
    A date in the future is 422 `expense_in_future`.
    """
    assert ctx.user_id is not None
    expense = service.record_expense(session=session, user_id=ctx.user_id, data=body)
    return ExpenseOut.model_validate(expense)


@router.post("/{expense_id}/approve", response_model=ExpenseOut, responses=_WRITE_ERRORS)
def approve_expense(
    ctx: ExpensesApprove, session: TenantSession, db: DatabaseDep, expense_id: uuid.UUID
) -> ExpenseOut:
    """`submitted → approved` (else 409 `invalid_transition`). One's own expense needs
    `expenses.approve_own` as well (else 403 `self_approval`)."""
    expense = service.decide(
        session=session, db=db, ctx=ctx, expense_id=expense_id, decision="approve"
    )
    return ExpenseOut.model_validate(expense)


@router.post("/{expense_id}/reject", response_model=ExpenseOut, responses=_WRITE_ERRORS)
def reject_expense(
    ctx: ExpensesApprove, session: TenantSession, db: DatabaseDep, expense_id: uuid.UUID
) -> ExpenseOut:
    """`submitted → rejected` (else 409 `invalid_transition`)."""
    expense = service.decide(
        session=session, db=db, ctx=ctx, expense_id=expense_id, decision="reject"
    )
    return ExpenseOut.model_validate(expense)

"""Expenses: ``/api/admin/expenses`` (record, list, approve, reject)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, status

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.expenses import service
from tenantry.expenses.schemas import ExpenseCreate, ExpenseOut, ExpenseStatus
from tenantry.kit.actor import Actor
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import ExpensesApprove, ExpensesRead, ExpensesWrite
from tenantry.routing import NOT_FOUND, Responses, tenant_router

router = tenant_router(prefix="/api/admin/expenses", tags=["expenses"])

IN_FUTURE: Responses = {422: {"description": "Incurred in the future (`expense_in_future`)"}}
DECIDE: Responses = {
    **NOT_FOUND,
    403: {"description": "One's own expense without `expenses.approve_own` (`self_approval`)"},
    409: {"description": "The expense is no longer submitted (`invalid_transition`)"},
}


@router.get("")
def list_expenses(
    ctx: ExpensesRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[ExpenseStatus | None, Query(description="Only this status.")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Only this member's.")] = None,
) -> Page[ExpenseOut]:
    """The tenant's expenses, most recently incurred first; `submitted` ones await approval."""
    found = service.list_expenses(session, status=status, user_id=user_id, page=page)
    return found.map(ExpenseOut.model_validate)


@router.post("", status_code=status.HTTP_201_CREATED, responses=IN_FUTURE)
def record_expense(
    ctx: ExpensesWrite, actor: Actor, session: TenantSession, body: ExpenseCreate
) -> ExpenseOut:
    """Record an expense for the caller.

    Amounts up to the tenant's `thresholds.expense_approval_cents` are approved at
    once; above it the expense stays `submitted` until approved or rejected.
    A date in the future is 422 `expense_in_future`.
    """
    expense = service.record_expense(session, user_id=actor.user_id, data=body)
    return ExpenseOut.model_validate(expense)


@router.post("/{expense_id}/approve", responses=DECIDE)
def approve_expense(
    ctx: ExpensesApprove, session: TenantSession, db: DatabaseDep, expense_id: uuid.UUID
) -> ExpenseOut:
    """`submitted → approved` (else 409 `invalid_transition`). One's own expense needs
    `expenses.approve_own` as well (else 403 `self_approval`)."""
    expense = service.decide(session, db=db, ctx=ctx, expense_id=expense_id, decision="approve")
    return ExpenseOut.model_validate(expense)


@router.post("/{expense_id}/reject", responses=DECIDE)
def reject_expense(
    ctx: ExpensesApprove, session: TenantSession, db: DatabaseDep, expense_id: uuid.UUID
) -> ExpenseOut:
    """`submitted → rejected` (else 409 `invalid_transition`)."""
    expense = service.decide(session, db=db, ctx=ctx, expense_id=expense_id, decision="reject")
    return ExpenseOut.model_validate(expense)

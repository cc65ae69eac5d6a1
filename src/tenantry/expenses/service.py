"""Expense rules: recorded for the caller, auto-approved up to the tenant's threshold.

An expense whose amount is at most ``thresholds.expense_approval_cents`` is approved
on creation; above it, it stays ``submitted`` (pending) until a member holding
``expenses.approve`` approves or rejects it. With the default threshold 0 every
expense waits for approval. Only a ``submitted`` expense can be approved or
rejected (else 409 ``invalid_transition``); the row is locked while it moves.

Approving needs someone other than the requester: the member who recorded the
expense may approve it only with ``expenses.approve_own`` (owners have it; nobody
else by default) — else 403 ``self_approval``. Rejecting one's own is allowed (it is
withdrawing it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.expenses.errors import ExpenseInFuture
from tenantry.expenses.models import Expense
from tenantry.expenses.repository import expense_approval_cents, expenses, most_recent_first
from tenantry.expenses.schemas import ExpenseCreate
from tenantry.isolation.context import TenantContext
from tenantry.kit.errors import InvalidTransition
from tenantry.kit.pagination import Page, PageParams
from tenantry.permissions.guards import refuse_self_approval

DECISIONS = {"approve": "approved", "reject": "rejected"}


def list_expenses(
    session: Session, *, status: str | None, user_id: uuid.UUID | None, page: PageParams
) -> Page[Expense]:
    return expenses.page(session, most_recent_first(status=status, user_id=user_id), page)


def record_expense(session: Session, *, user_id: uuid.UUID, data: ExpenseCreate) -> Expense:
    """The member is the caller (from the tenant context), never from the body."""
    # A day of slack: "today" in the member's time zone may be tomorrow in UTC.
    if data.incurred_on > (datetime.now(UTC) + timedelta(days=1)).date():
        raise ExpenseInFuture()
    threshold = expense_approval_cents(session)
    status = "approved" if data.amount_cents <= threshold else "submitted"
    return expenses.add(session, Expense(user_id=user_id, status=status, **data.model_dump()))


def decide(
    session: Session, *, db: Database, ctx: TenantContext, expense_id: uuid.UUID, decision: str
) -> Expense:
    target = DECISIONS[decision]
    expense = expenses.for_update(session, expense_id)
    if decision == "approve":
        refuse_self_approval(db, ctx, requested_by=expense.user_id)
    if expense.status != "submitted":
        raise InvalidTransition(f"An expense in status {expense.status!r} cannot be {target}.")
    expense.status = target
    expenses.flush(session)
    return expense

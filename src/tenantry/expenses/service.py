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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.errors import Conflict, NotFound, TenantryError
from tenantry.expenses import repository
from tenantry.expenses.models import Expense
from tenantry.expenses.schemas import ExpenseCreate
from tenantry.isolation.context import TenantContext
from tenantry.permissions.guards import refuse_self_approval

DECISIONS = {"approve": "approved", "reject": "rejected"}


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "The expense's status does not allow this."


class ExpenseInFuture(TenantryError):
    status_code = 422
    code = "expense_in_future"
    message = "An expense cannot be incurred in the future."


def list_expenses(
    *, session: Session, status: str | None, user_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[Sequence[Expense], int]:
    return repository.list_expenses(
        session, status=status, user_id=user_id, limit=limit, offset=offset
    )


def record_expense(*, session: Session, user_id: uuid.UUID, data: ExpenseCreate) -> Expense:
    # A day of slack: "today" in the member's time zone may be tomorrow in UTC.
    if data.incurred_on > (datetime.now(UTC) + timedelta(days=1)).date():
        raise ExpenseInFuture()
    threshold = repository.expense_approval_cents(session)
    expense = Expense(
        user_id=user_id,
        amount_cents=data.amount_cents,
        category=data.category.strip() or data.category,
        description=data.description,
        incurred_on=data.incurred_on,
        status="approved" if data.amount_cents <= threshold else "submitted",
    )
    repository.add_expense(session, expense)
    return expense


def decide(
    *, session: Session, db: Database, ctx: TenantContext, expense_id: uuid.UUID, decision: str
) -> Expense:
    target = DECISIONS[decision]
    expense = repository.get_expense(session, expense_id=expense_id, for_update=True)
    if expense is None:
        raise NotFound()
    if decision == "approve":
        refuse_self_approval(db, ctx, requested_by=expense.user_id)
    if expense.status != "submitted":
        raise InvalidTransition(f"An expense in status {expense.status!r} cannot be {target}.")
    expense.status = target
    session.flush()
    return expense

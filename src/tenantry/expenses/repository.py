"""Expense queries (tenant scoping comes from the ORM guard and RLS, not from here)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.expenses.models import Expense
from tenantry.tenant_settings.models import Thresholds

# Used when the tenant has no thresholds row yet (the model's own default).
DEFAULT_EXPENSE_APPROVAL_CENTS = 0


def list_expenses(
    session: Session,
    *,
    status: str | None,
    user_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Expense], int]:
    conditions = []
    if status is not None:
        conditions.append(Expense.status == status)
    if user_id is not None:
        conditions.append(Expense.user_id == user_id)
    total = session.scalar(select(func.count()).select_from(Expense).where(*conditions)) or 0
    rows = session.scalars(
        select(Expense)
        .where(*conditions)
        .order_by(Expense.incurred_on.desc(), Expense.created_at.desc(), Expense.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def get_expense(
    session: Session, *, expense_id: uuid.UUID, for_update: bool = False
) -> Expense | None:
    stmt = select(Expense).where(Expense.id == expense_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def expense_approval_cents(session: Session) -> int:
    """The tenant's approval threshold (its singleton thresholds row, else the default)."""
    value = session.scalar(select(Thresholds.expense_approval_cents))
    return DEFAULT_EXPENSE_APPROVAL_CENTS if value is None else int(value)


def add_expense(session: Session, expense: Expense) -> None:
    session.add(expense)
    session.flush()

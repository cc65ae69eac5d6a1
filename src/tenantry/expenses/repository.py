"""Expenses: the kit's repository, the list order and the tenant's approval threshold."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tenantry.expenses.models import Expense
from tenantry.kit.repository import Repository, built_once, where_given
from tenantry.tenant_settings.models import Thresholds

# Used when the tenant has no thresholds row yet (the model's own default).
DEFAULT_EXPENSE_APPROVAL_CENTS = 0

expenses = Repository(Expense, not_found="No such expense.")


@built_once
def most_recent_first(*, status: str | None, user_id: uuid.UUID | None) -> Select[Expense]:
    stmt = expenses.select().order_by(
        Expense.incurred_on.desc(), Expense.created_at.desc(), Expense.id
    )
    return where_given(stmt, (Expense.status, status), (Expense.user_id, user_id))


def expense_approval_cents(session: Session) -> int:
    """The tenant's approval threshold (its singleton thresholds row, else the default)."""
    value = session.scalar(select(Thresholds.expense_approval_cents))
    return DEFAULT_EXPENSE_APPROVAL_CENTS if value is None else int(value)

"""Request and response bodies for expenses.

``submitted`` is the pending state: an expense above the tenant's approval threshold
waits there until someone with ``expenses.approve`` approves or rejects it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from tenantry.kit.schemas import Input, Output

ExpenseStatus = Literal["submitted", "approved", "rejected", "reimbursed"]

MAX_AMOUNT_CENTS = 100_000_000_00


class ExpenseCreate(Input):
    """An expense of the caller's (the member is never taken from the body)."""

    amount_cents: int = Field(gt=0, le=MAX_AMOUNT_CENTS)
    category: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=2000)
    incurred_on: date = Field(description="The day the money was spent (not in the future).")


class ExpenseOut(Output):
    id: uuid.UUID
    user_id: uuid.UUID
    amount_cents: int
    category: str
    description: str
    incurred_on: date
    status: ExpenseStatus
    created_at: datetime
    updated_at: datetime

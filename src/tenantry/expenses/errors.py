"""Errors of expenses (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import InvalidInput


class ExpenseInFuture(InvalidInput):
    code = "expense_in_future"
    message = "An expense cannot be incurred in the future."

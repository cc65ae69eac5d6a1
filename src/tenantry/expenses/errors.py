"""Errors of expenses (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import NotFound, TenantryError


class ExpenseNotFound(NotFound):
    message = "No such expense."


class ExpenseInFuture(TenantryError):
    status_code = 422
    code = "expense_in_future"
    message = "An expense cannot be incurred in the future."

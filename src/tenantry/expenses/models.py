"""Expenses, recorded by a member of the tenant."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, uuid_pk

EXPENSE_STATUSES = ("submitted", "approved", "rejected", "reimbursed")


class Expense(TenantOwned, Timestamped):
    __tablename__ = "expenses"
    __table_args__ = (
        member_fk("expenses", "user_id"),
        one_of("status", EXPENSE_STATUSES),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_expenses_tenant_incurred", "tenant_id", "incurred_on"),
        Index("ix_expenses_tenant_user_incurred", "tenant_id", "user_id", "incurred_on"),
        Index("ix_expenses_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    category: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    incurred_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="submitted", server_default="submitted")

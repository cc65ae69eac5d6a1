"""Invoices and invoice lines. Amounts are integer cents in the invoice's currency."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenantry.db.base import TenantOwned, Timestamped, member_fk, one_of, tenant_fk, uuid_pk

INVOICE_STATUSES = ("draft", "sent", "paid", "void")


class Invoice(TenantOwned, Timestamped):
    __tablename__ = "invoices"
    __table_args__ = (
        # Numbers are per tenant: INV-0001 exists once in every tenant.
        UniqueConstraint("tenant_id", "number"),
        member_fk("invoices", "client_id"),
        tenant_fk("invoices", "booking_id", "bookings"),
        one_of("status", INVOICE_STATUSES),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
        CheckConstraint("status <> 'paid' or paid_at is not null", name="paid_has_paid_at"),
        Index("ix_invoices_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_invoices_tenant_client_created", "tenant_id", "client_id", "created_at"),
        Index("ix_invoices_tenant_booking", "tenant_id", "booking_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    client_id: Mapped[uuid.UUID]
    booking_id: Mapped[uuid.UUID | None]
    number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(8), default="draft", server_default="draft")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list[InvoiceLine]] = relationship(
        primaryjoin="and_(Invoice.tenant_id == InvoiceLine.tenant_id,"
        " Invoice.id == foreign(InvoiceLine.invoice_id))",
        back_populates="invoice",
        cascade="all, delete-orphan",
        order_by="InvoiceLine.position",
        lazy="raise",
    )


class InvoiceLine(TenantOwned, Timestamped):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        tenant_fk("invoice_lines", "invoice_id", "invoices", ondelete="CASCADE"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Unit prices may be negative (discount lines); the amount always adds up.
        CheckConstraint("amount_cents = quantity * unit_price_cents", name="amount_adds_up"),
        Index("ix_invoice_lines_tenant_invoice_position", "tenant_id", "invoice_id", "position"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)

    invoice: Mapped[Invoice] = relationship(
        primaryjoin="and_(Invoice.tenant_id == InvoiceLine.tenant_id,"
        " Invoice.id == foreign(InvoiceLine.invoice_id))",
        back_populates="lines",
        lazy="raise",
    )

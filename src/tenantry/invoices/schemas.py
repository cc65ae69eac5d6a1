"""Request and response bodies for invoices (admin and portal).

The client never sends amounts that the server computes: line amounts and the total
are derived from quantity * unit price, and unknown fields (``total_cents``,
``amount_cents``, ``number``, ``status``...) are refused with 422.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from tenantry.kit.schemas import Input, Output

InvoiceStatus = Literal["draft", "sent", "paid", "void"]

MAX_QUANTITY = 100_000
MAX_UNIT_PRICE_CENTS = 100_000_000_00  # 100 million in major units


class InvoiceLineIn(Input):
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    unit_price_cents: int = Field(
        ge=-MAX_UNIT_PRICE_CENTS,
        le=MAX_UNIT_PRICE_CENTS,
        description="May be negative for a discount line; the invoice total may not.",
    )


class InvoiceCreate(Input):
    client_id: uuid.UUID = Field(description="User id of a member of this tenant.")
    booking_id: uuid.UUID | None = Field(
        default=None, description="A booking of this tenant, for the same client."
    )
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="Default: the tenant's currency."
    )
    lines: list[InvoiceLineIn] = Field(min_length=1, max_length=100)


class InvoiceLineOut(Output):
    id: uuid.UUID
    position: int
    description: str
    quantity: int
    unit_price_cents: int
    amount_cents: int


class InvoiceOut(Output):
    id: uuid.UUID
    number: str
    client_id: uuid.UUID
    booking_id: uuid.UUID | None
    status: InvoiceStatus
    currency: str
    total_cents: int
    issued_at: datetime | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


class InvoiceDetail(InvoiceOut):
    lines: list[InvoiceLineOut]

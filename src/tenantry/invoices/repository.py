"""Invoices: the kit's repository (the client owns an invoice), the list order and the
tenant's highest number.

No tenant filter is written by hand: the ORM guard scopes every statement to the
context's tenant and row-level security enforces it again.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Integer, Select, cast, func, select
from sqlalchemy.orm import Session, selectinload

from tenantry.invoices.errors import NumberTaken
from tenantry.invoices.models import Invoice
from tenantry.kit.errors import UnknownBooking, UnknownClient
from tenantry.kit.repository import Repository, built_once, where_given

NUMBER_PREFIX = "INV-"

invoices = Repository(
    Invoice,
    owner=Invoice.client_id,
    not_found="No such invoice.",
    constraints={
        "uq_invoices_tenant_id_number": NumberTaken,
        # The client or booking vanished between the check and the insert.
        "fk_invoices_client_id": UnknownClient,
        "fk_invoices_booking_id": UnknownBooking,
    },
)
WITH_LINES = (selectinload(Invoice.lines),)


@built_once
def by_creation(
    *,
    status: str | None,
    client_id: uuid.UUID | None = None,
    owner: uuid.UUID | None = None,
    oldest_first: bool = False,
) -> Select[Invoice]:
    """Newest first (or oldest). A client (``owner``) never sees drafts: they are the
    business's work in progress."""
    order = (
        (Invoice.created_at, Invoice.id)
        if oldest_first
        else (Invoice.created_at.desc(), Invoice.id)
    )
    stmt = invoices.select(owner=owner).order_by(*order)
    if owner is not None:
        stmt = stmt.where(Invoice.status != "draft")
    return where_given(stmt, (Invoice.status, status), (Invoice.client_id, client_id))


def highest_number(session: Session) -> int:
    """The highest ``INV-<n>`` of the tenant (0 when none)."""
    digits = func.substring(Invoice.number, len(NUMBER_PREFIX) + 1)
    value = session.scalar(
        select(func.max(cast(digits, Integer))).where(
            Invoice.number.regexp_match(r"^INV-[0-9]{1,9}$")
        )
    )
    return int(value or 0)

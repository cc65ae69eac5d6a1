"""Invoice queries. The only code here that touches the database.

No tenant filter is written by hand: the ORM guard scopes every statement to the
context's tenant and row-level security enforces it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tenantry.auth.models import Membership
from tenantry.bookings.models import Booking
from tenantry.invoices.models import Invoice

NUMBER_PREFIX = "INV-"
NUMBER_UNIQUE = "uq_invoices_tenant_id_number"


def constraint_name(exc: IntegrityError) -> str | None:
    """The violated constraint's name (psycopg exposes it as ``diag``)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def list_invoices(
    session: Session,
    *,
    status: str | None,
    client_id: uuid.UUID | None,
    limit: int,
    offset: int,
    hide_drafts: bool = False,
    oldest_first: bool = False,
) -> tuple[Sequence[Invoice], int]:
    conditions = []
    if status is not None:
        conditions.append(Invoice.status == status)
    if client_id is not None:
        conditions.append(Invoice.client_id == client_id)
    if hide_drafts:
        conditions.append(Invoice.status != "draft")
    total = session.scalar(select(func.count()).select_from(Invoice).where(*conditions)) or 0
    rows = session.scalars(
        select(Invoice)
        .where(*conditions)
        .order_by(
            *(
                (Invoice.created_at, Invoice.id)
                if oldest_first
                else (Invoice.created_at.desc(), Invoice.id)
            )
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def get_invoice(
    session: Session,
    *,
    invoice_id: uuid.UUID,
    with_lines: bool = False,
    for_update: bool = False,
) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    if with_lines:
        stmt = stmt.options(selectinload(Invoice.lines))
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def get_membership(session: Session, *, user_id: uuid.UUID) -> Membership | None:
    return session.scalar(select(Membership).where(Membership.user_id == user_id))


def get_booking(session: Session, *, booking_id: uuid.UUID) -> Booking | None:
    return session.scalar(select(Booking).where(Booking.id == booking_id))


def highest_number(session: Session) -> int:
    """The highest ``INV-<n>`` of the tenant (0 when none)."""
    digits = func.substring(Invoice.number, len(NUMBER_PREFIX) + 1)
    value = session.scalar(
        select(func.max(cast(digits, Integer))).where(
            Invoice.number.regexp_match(r"^INV-[0-9]{1,9}$")
        )
    )
    return int(value or 0)


def insert_invoice(session: Session, invoice: Invoice) -> None:
    """Insert inside a savepoint so a unique violation leaves the request's
    transaction usable (the caller retries with the next number)."""
    with session.begin_nested():
        session.add(invoice)
        session.flush()

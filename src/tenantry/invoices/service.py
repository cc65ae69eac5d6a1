"""Invoice rules: server-side amounts, per-tenant numbers, the status machine.

Status machine: ``draft → sent → paid``; ``draft|sent → void``. A paid invoice is
never voided (refund it instead), and every other move is a 409 ``invalid_transition``.
Transitions lock the row (``SELECT … FOR UPDATE``) so two concurrent moves cannot both
succeed from the same status.

Numbers (``INV-000123``) are unique per tenant. The next number is the tenant's highest
plus one; two concurrent creations may pick the same one, so the insert runs in a
savepoint and, on the unique violation, is retried with a fresh number (under READ
COMMITTED the retry sees the winner's committed row). Services flush, never commit.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tenantry.bookings.repository import bookings
from tenantry.invoices.errors import (
    BookingClientMismatch,
    InvoiceNumberConflict,
    NegativeTotal,
    NumberTaken,
)
from tenantry.invoices.models import Invoice, InvoiceLine
from tenantry.invoices.repository import (
    NUMBER_PREFIX,
    WITH_LINES,
    by_creation,
    highest_number,
    invoices,
)
from tenantry.invoices.schemas import InvoiceCreate
from tenantry.kit.errors import InvalidTransition, UnknownClient
from tenantry.kit.members import find_member
from tenantry.kit.pagination import Page, PageParams
from tenantry.tenant_settings import service as settings_service

NUMBER_ATTEMPTS = 8

# Allowed moves: action → (statuses it may start from, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "send": (frozenset({"draft"}), "sent"),
    "mark_paid": (frozenset({"sent"}), "paid"),
    "void": (frozenset({"draft", "sent"}), "void"),
}


def format_number(n: int) -> str:
    return f"{NUMBER_PREFIX}{n:06d}"


def list_invoices(
    session: Session,
    *,
    status: str | None,
    client_id: uuid.UUID | None = None,
    owner: uuid.UUID | None = None,
    oldest_first: bool = False,
    page: PageParams,
) -> Page[Invoice]:
    """The tenant's invoices; with ``owner``, that client's own (drafts never shown)."""
    stmt = by_creation(status=status, client_id=client_id, owner=owner, oldest_first=oldest_first)
    return invoices.page(session, stmt, page)


def get_invoice(
    session: Session, *, invoice_id: uuid.UUID, owner: uuid.UUID | None = None
) -> Invoice:
    """With ``owner``: another client's invoice, and a draft, look exactly like a
    missing one (404)."""
    invoice = invoices.get_or_404(session, invoice_id, owner=owner, options=WITH_LINES)
    if owner is not None and invoice.status == "draft":
        raise invoices.not_found()
    return invoice


def create_invoice(session: Session, *, data: InvoiceCreate) -> Invoice:
    if find_member(session, user_id=data.client_id, roles=("client",)) is None:
        raise UnknownClient()
    if data.booking_id is not None:
        booking = bookings.referenced(session, data.booking_id)
        if booking.client_id != data.client_id:
            raise BookingClientMismatch()
    lines = [
        InvoiceLine(
            position=i,
            description=line.description,
            quantity=line.quantity,
            unit_price_cents=line.unit_price_cents,
            amount_cents=line.quantity * line.unit_price_cents,
        )
        for i, line in enumerate(data.lines)
    ]
    total = sum(line.amount_cents for line in lines)
    if total < 0:
        raise NegativeTotal()
    invoice_id = uuid.uuid4()
    for line in lines:
        line.invoice_id = invoice_id
    for _ in range(NUMBER_ATTEMPTS):
        invoice = Invoice(
            id=invoice_id,
            client_id=data.client_id,
            booking_id=data.booking_id,
            currency=data.currency or _tenant_currency(session),
            total_cents=total,
            status="draft",
            number=format_number(highest_number(session) + 1),
        )
        invoice.lines = lines
        try:
            # In a savepoint: a number taken meanwhile leaves the request's transaction
            # usable, and the retry (READ COMMITTED) sees the winner's committed row.
            with session.begin_nested():
                invoices.add(session, invoice)
        except NumberTaken:
            continue
        return invoice
    raise InvoiceNumberConflict()


def transition(session: Session, *, invoice_id: uuid.UUID, action: str) -> Invoice:
    allowed, target = TRANSITIONS[action]
    invoice = invoices.for_update(session, invoice_id, options=WITH_LINES)
    if invoice.status not in allowed:
        raise InvalidTransition(f"An invoice in status {invoice.status!r} cannot be {target}.")
    now = datetime.now(UTC)
    invoice.status = target
    if target == "sent":
        invoice.issued_at = now
    elif target == "paid":
        invoice.paid_at = now
    invoices.flush(session)
    return invoice


def mark_paid_by_provider(session: Session, *, invoice: Invoice, paid_at: datetime) -> bool:
    """Webhook path: ``sent → paid``. Already paid is a no-op (False); other
    statuses are left alone (False) — the payment is recorded, not applied."""
    if invoice.status != "sent":
        return False
    invoice.status = "paid"
    invoice.paid_at = paid_at
    invoices.flush(session)
    return True


def _tenant_currency(session: Session) -> str:
    """The currency in the tenant's booking settings (USD until it sets one)."""
    return settings_service.read(session=session, kind=settings_service.BOOKING).currency

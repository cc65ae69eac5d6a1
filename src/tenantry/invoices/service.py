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
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.errors import Conflict, NotFound, TenantryError
from tenantry.invoices import repository
from tenantry.invoices.models import Invoice, InvoiceLine
from tenantry.invoices.schemas import InvoiceCreate
from tenantry.tenant_settings import service as settings_service

NUMBER_ATTEMPTS = 8

# Allowed moves: action → (statuses it may start from, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "send": (frozenset({"draft"}), "sent"),
    "mark_paid": (frozenset({"sent"}), "paid"),
    "void": (frozenset({"draft", "sent"}), "void"),
}


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "The invoice's status does not allow this."


class InvoiceNumberConflict(Conflict):
    code = "invoice_number_conflict"
    message = "Could not allocate an invoice number; try again."


class InvalidInvoice(TenantryError):
    status_code = 422


class ClientNotFound(InvalidInvoice):
    code = "client_not_found"
    message = "The client is not a member of this tenant."


class NotAClient(InvalidInvoice):
    code = "not_a_client"
    message = "Invoices are addressed to an active client of this tenant."


class BookingNotFound(InvalidInvoice):
    code = "booking_not_found"
    message = "The booking does not exist in this tenant."


class BookingClientMismatch(InvalidInvoice):
    code = "booking_client_mismatch"
    message = "The booking belongs to another client."


class NegativeTotal(InvalidInvoice):
    code = "invoice_total_negative"
    message = "The invoice total may not be negative."


def format_number(n: int) -> str:
    return f"{repository.NUMBER_PREFIX}{n:06d}"


def list_invoices(
    *,
    session: Session,
    status: str | None,
    client_id: uuid.UUID | None,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> tuple[Sequence[Invoice], int]:
    return repository.list_invoices(
        session,
        status=status,
        client_id=client_id,
        limit=limit,
        offset=offset,
        oldest_first=oldest_first,
    )


def get_invoice(*, session: Session, invoice_id: uuid.UUID) -> Invoice:
    invoice = repository.get_invoice(session, invoice_id=invoice_id, with_lines=True)
    if invoice is None:
        raise NotFound()
    return invoice


def list_client_invoices(
    *, session: Session, client_id: uuid.UUID, status: str | None, limit: int, offset: int
) -> tuple[Sequence[Invoice], int]:
    """A client's own invoices; drafts are the business's work in progress, never shown."""
    return repository.list_invoices(
        session, status=status, client_id=client_id, limit=limit, offset=offset, hide_drafts=True
    )


def get_client_invoice(*, session: Session, client_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    """Another client's invoice, and a draft, look exactly like a missing one (404)."""
    invoice = repository.get_invoice(session, invoice_id=invoice_id, with_lines=True)
    if invoice is None or invoice.client_id != client_id or invoice.status == "draft":
        raise NotFound()
    return invoice


def create_invoice(*, session: Session, data: InvoiceCreate) -> Invoice:
    membership = repository.get_membership(session, user_id=data.client_id)
    if membership is None:
        raise ClientNotFound()
    if membership.role != "client" or membership.status != "active":
        raise NotAClient()
    if data.booking_id is not None:
        booking = repository.get_booking(session, booking_id=data.booking_id)
        if booking is None:
            raise BookingNotFound()
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
            number=format_number(repository.highest_number(session) + 1),
        )
        invoice.lines = lines
        try:
            repository.insert_invoice(session, invoice)
        except IntegrityError as exc:
            name = repository.constraint_name(exc)
            if name == repository.NUMBER_UNIQUE:
                continue
            if name == "fk_invoices_client_id":
                raise ClientNotFound() from exc
            if name == "fk_invoices_booking_id":
                raise BookingNotFound() from exc
            raise InvalidInvoice("The invoice could not be stored.") from exc
        return invoice
    raise InvoiceNumberConflict()


def transition(*, session: Session, invoice_id: uuid.UUID, action: str) -> Invoice:
    allowed, target = TRANSITIONS[action]
    invoice = repository.get_invoice(
        session, invoice_id=invoice_id, with_lines=True, for_update=True
    )
    if invoice is None:
        raise NotFound()
    if invoice.status not in allowed:
        raise InvalidTransition(f"An invoice in status {invoice.status!r} cannot be {target}.")
    now = datetime.now(UTC)
    invoice.status = target
    if target == "sent":
        invoice.issued_at = now
    elif target == "paid":
        invoice.paid_at = now
    session.flush()
    return invoice


def mark_paid_by_provider(*, session: Session, invoice: Invoice, paid_at: datetime) -> bool:
    """Webhook path: ``sent → paid``. Already paid is a no-op (False); other
    statuses are left alone (False) — the payment is recorded, not applied."""
    if invoice.status != "sent":
        return False
    invoice.status = "paid"
    invoice.paid_at = paid_at
    session.flush()
    return True


def _tenant_currency(session: Session) -> str:
    """The currency in the tenant's booking settings (USD until it sets one)."""
    return settings_service.read(session=session, kind=settings_service.BOOKING).currency

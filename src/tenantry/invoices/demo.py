"""Demo invoices: for each demo client, one paid, one sent, one draft and one void.

Lines come from the tenant's own catalogue when it has one. Idempotent: a tenant that
already has invoices is left alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.auth.models import Membership
from tenantry.bookings.models import Booking
from tenantry.invoices import service
from tenantry.invoices.models import Invoice
from tenantry.invoices.schemas import InvoiceCreate, InvoiceLineIn
from tenantry.kit.demo import DemoTenant, fills
from tenantry.services.models import Service

FALLBACK_LINES = [("Call-out and first hour", 1, 8500), ("Additional hour", 2, 6000)]
# (status, days ago created, days ago issued, days ago paid)
PLAN = [
    ("paid", 24, 23, 9),
    ("sent", 6, 5, None),
    ("void", 15, 14, None),
    ("draft", 1, None, None),
]


def _lines(catalogue: list[tuple[str, int]], offset: int) -> list[InvoiceLineIn]:
    if not catalogue:
        return [
            InvoiceLineIn(description=d, quantity=q, unit_price_cents=p)
            for d, q, p in FALLBACK_LINES
        ]
    picked = [catalogue[(offset + i) % len(catalogue)] for i in range(min(2, len(catalogue)))]
    lines = [
        InvoiceLineIn(description=name, quantity=1, unit_price_cents=price)
        for name, price in picked
    ]
    lines.append(
        InvoiceLineIn(description="Materials and consumables", quantity=3, unit_price_cents=450)
    )
    return lines


@fills(Invoice)
def fill(s: Session, demo: DemoTenant) -> None:
    clients = list(
        s.scalars(
            select(Membership.user_id)
            .where(Membership.role == "client", Membership.status == "active")
            .order_by(Membership.created_at)
            .limit(2)
        ).all()
    )
    catalogue = [
        (name, price)
        for name, price in s.execute(
            select(Service.name, Service.price_cents)
            .where(Service.active.is_(True))
            .order_by(Service.name)
        ).all()
    ]
    now = datetime.now(UTC)
    for c, client_id in enumerate(clients):
        booking_id = s.scalar(
            select(Booking.id)
            .where(Booking.client_id == client_id)
            .order_by(Booking.starts_at)
            .limit(1)
        )
        for i, (status, created, issued, paid) in enumerate(PLAN):
            invoice = service.create_invoice(
                session=s,
                data=InvoiceCreate(
                    client_id=client_id,
                    booking_id=booking_id if i == 0 else None,
                    lines=_lines(catalogue, c * len(PLAN) + i),
                ),
            )
            invoice.created_at = now - timedelta(days=created + c)
            invoice.status = status
            invoice.issued_at = now - timedelta(days=issued + c) if issued is not None else None
            invoice.paid_at = now - timedelta(days=paid + c) if paid is not None else None
            s.flush()

"""Payment event queries.

``invoice_tenants`` is the one privileged query: run it in a system session, and it
selects only the tenant id of the invoice — nothing else of any tenant is read
outside that tenant's context.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.invoices.models import Invoice
from tenantry.payments.models import PaymentEvent

EVENT_UNIQUE = "uq_payment_events_tenant_id_provider_event_id"


def invoice_tenants(system_session: Session, *, invoice_id: uuid.UUID) -> list[uuid.UUID]:
    """The tenant(s) holding an invoice with this id (ids are unique per tenant only,
    so in theory more than one; the caller refuses ambiguity)."""
    return list(
        system_session.scalars(
            select(Invoice.tenant_id).where(Invoice.id == invoice_id).limit(2)
        ).all()
    )


def insert_event(session: Session, event: PaymentEvent) -> bool:
    """Store the event once per (tenant, provider event id); False if already stored.

    In a savepoint so the duplicate's unique violation leaves the transaction usable.
    A concurrent delivery of the same event waits on the unique index until the first
    commits, then lands here as a duplicate.
    """
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)
        if getattr(diag, "constraint_name", None) == EVENT_UNIQUE:
            return False
        raise
    return True


def held_events(session: Session) -> list[PaymentEvent]:
    """The current tenant's held events, oldest first, locked (one release at a time)."""
    return list(
        session.scalars(
            select(PaymentEvent)
            .where(PaymentEvent.held_at.is_not(None))
            .order_by(PaymentEvent.received_at, PaymentEvent.id)
            .with_for_update()
        ).all()
    )

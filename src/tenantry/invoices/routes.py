"""Invoices: admin routes (``/api/admin/invoices``) and the client portal
(``/api/portal/invoices``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query

from tenantry.auth.dependencies import DatabaseDep, TenantSession
from tenantry.invoices import service
from tenantry.invoices.schemas import InvoiceCreate, InvoiceDetail, InvoiceOut, InvoiceStatus
from tenantry.kit.actor import PortalClient
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import InvoicesRead, InvoicesWrite
from tenantry.permissions.catalog import reads_for
from tenantry.permissions.dependencies import require_permissions
from tenantry.routing import NOT_FOUND, Responses, tenant_router

CREATE: Responses = {
    422: {
        "description": "Invalid input, `unknown_client`, `unknown_booking`,"
        " `booking_client_mismatch` or `invoice_total_negative`"
    },
    409: {"description": "No invoice number could be allocated (`invoice_number_conflict`)"},
}
TRANSITION: Responses = {
    **NOT_FOUND,
    409: {"description": "Not allowed in the invoice's status (`invalid_transition`)"},
}

admin = tenant_router(prefix="/api/admin/invoices", tags=["invoices"])
portal = tenant_router(prefix="/api/portal/invoices", tags=["portal", "invoices"])
routers = [admin, portal]


@admin.get("")
def list_invoices(
    ctx: InvoicesRead,
    session: TenantSession,
    page: Pagination,
    status: Annotated[InvoiceStatus | None, Query(description="Only this status.")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Only this client's.")] = None,
    order: Annotated[
        Literal["newest", "oldest"], Query(description="By creation: newest or oldest first.")
    ] = "newest",
) -> Page[InvoiceOut]:
    """The tenant's invoices, newest first (or oldest), optionally by status and client."""
    found = service.list_invoices(
        session, status=status, client_id=client_id, oldest_first=order == "oldest", page=page
    )
    return found.map(InvoiceOut.model_validate)


@admin.post("", status_code=201, responses=CREATE)
def create_invoice(
    ctx: InvoicesWrite, session: TenantSession, db: DatabaseDep, body: InvoiceCreate
) -> InvoiceDetail:
    """Create a draft invoice with its lines.

    Line amounts (quantity * unit price) and the total are computed here; the number
    (``INV-000123``) is the tenant's next. The client must be an active client member of
    this tenant (else 422 `unknown_client`); an optional booking must be this tenant's
    and the same client's (422 `unknown_booking` /
    `booking_client_mismatch`; naming a booking needs `bookings.read` too). A negative
    total is 422 `invoice_total_negative`.
    """
    require_permissions(db, ctx, *reads_for(booking_id=body.booking_id))
    return InvoiceDetail.model_validate(service.create_invoice(session, data=body))


@admin.get("/{invoice_id}", responses=NOT_FOUND)
def get_invoice(ctx: InvoicesRead, session: TenantSession, invoice_id: uuid.UUID) -> InvoiceDetail:
    """One invoice with its lines (404 `not_found` when not this tenant's)."""
    return InvoiceDetail.model_validate(service.get_invoice(session, invoice_id=invoice_id))


@admin.post("/{invoice_id}/send", responses=TRANSITION)
def send_invoice(
    ctx: InvoicesWrite, session: TenantSession, invoice_id: uuid.UUID
) -> InvoiceDetail:
    """Issue a draft: `draft → sent`, sets `issued_at` (else 409 `invalid_transition`)."""
    invoice = service.transition(session, invoice_id=invoice_id, action="send")
    return InvoiceDetail.model_validate(invoice)


@admin.post("/{invoice_id}/mark-paid", responses=TRANSITION)
def mark_invoice_paid(
    ctx: InvoicesWrite, session: TenantSession, invoice_id: uuid.UUID
) -> InvoiceDetail:
    """Record a payment received outside the provider: `sent → paid`, sets `paid_at`
    (else 409 `invalid_transition`)."""
    invoice = service.transition(session, invoice_id=invoice_id, action="mark_paid")
    return InvoiceDetail.model_validate(invoice)


@admin.post("/{invoice_id}/void", responses=TRANSITION)
def void_invoice(
    ctx: InvoicesWrite, session: TenantSession, invoice_id: uuid.UUID
) -> InvoiceDetail:
    """Cancel an invoice: `draft|sent → void`. A paid invoice cannot be voided
    (409 `invalid_transition`)."""
    invoice = service.transition(session, invoice_id=invoice_id, action="void")
    return InvoiceDetail.model_validate(invoice)


@portal.get("")
def list_my_invoices(
    client: PortalClient,
    session: TenantSession,
    page: Pagination,
    status: Annotated[InvoiceStatus | None, Query(description="Only this status.")] = None,
) -> Page[InvoiceOut]:
    """The signed-in client's own invoices (sent, paid, void — never drafts)."""
    found = service.list_invoices(session, status=status, owner=client.user_id, page=page)
    return found.map(InvoiceOut.model_validate)


@portal.get("/{invoice_id}", responses=NOT_FOUND)
def get_my_invoice(
    client: PortalClient, session: TenantSession, invoice_id: uuid.UUID
) -> InvoiceDetail:
    """One of the client's own invoices with its lines; anyone else's, and drafts, are 404."""
    invoice = service.get_invoice(session, invoice_id=invoice_id, owner=client.user_id)
    return InvoiceDetail.model_validate(invoice)

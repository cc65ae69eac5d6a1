"""The payments webhook: verify, resolve the tenant narrowly, then act inside it.

1. The signature is verified first (``payments.signature``); nothing is parsed or
   looked up for an unsigned request.
2. The event names its invoice and tenant in ``data.object.metadata``. The tenant is
   *resolved from the invoice* with one privileged query that selects only the
   invoice's ``tenant_id`` (``db.system_session``, audited by its reason) and
   cross-checked with the metadata: a disagreement is 400 ``tenant_mismatch`` and a
   security event. The metadata alone is never trusted to pick a tenant.
3. Everything else happens in that tenant's context with the app role (guard + RLS):
   the event is stored once per (tenant, provider event id) — a replay answers
   ``duplicate`` and changes nothing — and a ``sent`` invoice whose total AND currency
   match the event's ``amount`` and ``currency`` becomes ``paid``. A payment event
   without ``amount`` or ``currency`` is refused (400 ``invalid_event``): it used to
   mark the invoice paid whatever was paid (issue 8, finding 9).
4. A tenant that is not active (suspended) acts on nothing: its event is stored with
   ``held_at`` and answered 200 ``held``; ``apply_held_events`` applies it once the
   tenant is active again (``tenantry.tenants.held.release_held_work``).

Unknown invoices are answered 200 ``{"status": "ignored"}``: a provider retries any
non-2xx for days, and an invoice that does not exist will never start to. Only a
correctly signed request (the provider, holding the secret) can tell "unknown" (200)
from "another tenant's" (400 ``tenant_mismatch``); without the secret every request
stops at the signature, before any lookup, so nobody else learns whether an invoice
id exists in any tenant. The answers never name another tenant or its data.

There is no request-scoped session on this system route, so this function owns its
two short units of work (``db.system_session`` and ``db.session``), like a job.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.db.tenant_status import ACTIVE, tenant_status
from tenantry.errors import TenantryError
from tenantry.invoices import service as invoices_service
from tenantry.invoices.models import Invoice
from tenantry.invoices.repository import invoices
from tenantry.isolation.context import TenantContext, current_context, tenant_context
from tenantry.payments import repository
from tenantry.payments.models import PaymentEvent
from tenantry.payments.schemas import WebhookEvent, WebhookResult, WebhookStatus
from tenantry.payments.signature import verify_signature
from tenantry.settings import Settings

PROVIDER = "stripe"
HANDLED_TYPES = frozenset({"payment_intent.succeeded"})
RESOLVE_REASON = "payments webhook: resolve invoice tenant"
MAX_PAYLOAD_BYTES = 256 * 1024  # provider events are a few KB

_log = structlog.get_logger("tenantry.payments")
_security = structlog.get_logger("tenantry.security")


class InvalidEvent(TenantryError):
    code = "invalid_event"
    message = "The event is not valid JSON of the expected shape."


class PaymentTenantMismatch(TenantryError):
    code = "tenant_mismatch"
    message = "The event's tenant does not match its invoice."


def _metadata_uuid(event: WebhookEvent, name: str) -> uuid.UUID:
    raw = event.data.object.metadata.get(name)
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise InvalidEvent(f"data.object.metadata.{name} must be a UUID.") from exc


def handle_webhook(
    *,
    db: Database,
    settings: Settings,
    payload: bytes,
    signature: str | None,
    now: float | None = None,
) -> WebhookResult:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidEvent("The event is too large.")
    try:
        verify_signature(
            settings.webhook_secret,
            payload,
            signature,
            tolerance_s=settings.payments_webhook_tolerance_s,
            now=now,
        )
    except TenantryError as exc:
        # A forged or replayed callback: a security event (metrics, operator view).
        _security.warning("security_event", code=f"webhook_{exc.code}")
        raise
    try:
        event = WebhookEvent.model_validate_json(payload)
    except ValidationError as exc:
        raise InvalidEvent() from exc
    log = _log.bind(event_id=event.id, event_type=event.type)
    if event.type not in HANDLED_TYPES:
        log.info("payment_event_ignored", reason="type not handled")
        return WebhookResult(status="ignored")
    invoice_id = _metadata_uuid(event, "invoice_id")
    claimed_tenant = _metadata_uuid(event, "tenant_id")
    _require_amount(event)

    with db.system_session(reason=RESOLVE_REASON) as system:
        tenants = repository.invoice_tenants(system, invoice_id=invoice_id)
    if not tenants:
        log.info("payment_event_ignored", reason="unknown invoice", invoice_id=str(invoice_id))
        return WebhookResult(status="ignored")
    if len(tenants) != 1 or tenants[0] != claimed_tenant:
        _security.warning(
            "security_event",
            code=PaymentTenantMismatch.code,
            event_id=event.id,
            invoice_id=str(invoice_id),
            claimed_tenant=str(claimed_tenant),
            invoice_tenant=",".join(str(t) for t in tenants),
        )
        raise PaymentTenantMismatch()
    hold = tenant_status(db, tenants[0]) != ACTIVE
    return _apply(
        db=db, event=event, tenant_id=tenants[0], invoice_id=invoice_id, payload=payload, hold=hold
    )


def _require_amount(event: WebhookEvent) -> None:
    """What was paid must be said: no amount or currency, no payment (400)."""
    paid = event.data.object
    missing = [name for name in ("amount", "currency") if getattr(paid, name) is None]
    if missing:
        raise InvalidEvent(
            "A payment event needs " + " and ".join(f"data.object.{m}" for m in missing) + "."
        )


def _tenant_context(tenant_id: uuid.UUID) -> TenantContext:
    outer = current_context()
    return TenantContext(
        tenant_id=tenant_id, request_id=outer.request_id if outer else None, scope="tenant"
    )


def _apply(
    *,
    db: Database,
    event: WebhookEvent,
    tenant_id: uuid.UUID,
    invoice_id: uuid.UUID,
    payload: bytes,
    hold: bool,
) -> WebhookResult:
    log = _log.bind(event_id=event.id, tenant_id=str(tenant_id), invoice_id=str(invoice_id))
    with tenant_context(_tenant_context(tenant_id)), db.session() as session:
        # Lock the invoice first: concurrent deliveries of different events for one
        # invoice then apply one after the other.
        invoice = invoices.get(session, invoice_id, lock=True)
        stored = repository.insert_event(
            session,
            PaymentEvent(
                provider=PROVIDER,
                provider_event_id=event.id,
                type=event.type,
                invoice_id=invoice_id if invoice is not None else None,
                payload=json.loads(payload),
                held_at=datetime.now(UTC) if hold else None,
            ),
        )
        if not stored:
            log.info("payment_event_duplicate")
            return WebhookResult(status="duplicate")
        if hold:
            log.info("payment_event_held", reason="tenant not active")
            return WebhookResult(status="held")
        return WebhookResult(status=_settle(session, event, invoice, log))


def _settle(
    session: Session, event: WebhookEvent, invoice: Invoice | None, log: Any
) -> WebhookStatus:
    """Apply a stored event to its (locked) invoice: ``processed`` or ``recorded``."""
    if invoice is None:  # deleted between the lookup and now
        return "recorded"
    paid = event.data.object
    currency = (paid.currency or "").upper()
    if paid.amount != invoice.total_cents or currency != invoice.currency:
        log.warning(
            "payment_does_not_match_invoice",
            amount=paid.amount,
            currency=currency,
            total=invoice.total_cents,
            invoice_currency=invoice.currency,
        )
        return "recorded"
    if invoice.status == "paid":
        return "processed"
    if invoices_service.mark_paid_by_provider(session, invoice=invoice, paid_at=datetime.now(UTC)):
        log.info("invoice_paid_by_provider")
        return "processed"
    log.warning("payment_for_unpayable_invoice", status=invoice.status)
    return "recorded"


def apply_held_events(db: Database, tenant_id: uuid.UUID) -> int:
    """Apply the tenant's held events, oldest first, each exactly once; return how
    many. Call when the tenant is active again (``tenants.held.release_held_work``)."""
    applied = 0
    with tenant_context(_tenant_context(tenant_id)), db.session() as session:
        for stored in repository.held_events(session):
            log = _log.bind(event_id=stored.provider_event_id, tenant_id=str(tenant_id))
            stored.held_at = None
            try:
                event = WebhookEvent.model_validate(stored.payload)
            except ValidationError:  # stored after validation: cannot happen; never retried
                log.error("held_payment_event_unreadable")
                continue
            invoice = (
                invoices.get(session, stored.invoice_id, lock=True)
                if stored.invoice_id is not None
                else None
            )
            outcome = _settle(session, event, invoice, log)
            log.info("held_payment_event_applied", outcome=outcome)
            applied += 1
        session.flush()
    return applied

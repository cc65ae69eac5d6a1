"""``POST /api/payments/webhook``: the payment provider's callback (system scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from tenantry.auth.dependencies import DatabaseDep, SettingsDep
from tenantry.kit.body_limit import body_limit
from tenantry.payments import service
from tenantry.payments.schemas import WebhookResult
from tenantry.routing import system_router

router = system_router(prefix="/api/payments", tags=["payments"])

_ERROR = {"description": 'Error (`{"error": {"code", "message", "request_id"}}`).'}


async def raw_body(request: Request) -> bytes:
    """The exact bytes that were signed (parsing first would change them)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


@router.post(
    "/webhook",
    responses={400: _ERROR},
    openapi_extra={
        **body_limit("webhook"),
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
def payments_webhook(
    payload: RawBody,
    settings: SettingsDep,
    db: DatabaseDep,
    signature: Annotated[
        str | None,
        Header(alias="Tenantry-Signature", description="t=<unix>,v1=<hex HMAC-SHA256>"),
    ] = None,
) -> WebhookResult:
    """Receive a signed payment event and mark the invoice paid.

    No user session: the signature (HMAC-SHA256 over `"{t}.{raw body}"` with the
    webhook secret) authenticates the provider; 400 `signature_malformed`,
    `signature_invalid` or `signature_expired` otherwise. The tenant is the invoice's
    (`metadata.invoice_id`), cross-checked with `metadata.tenant_id` (400
    `tenant_mismatch`). A `payment_intent.succeeded` must carry `amount` (cents) and
    `currency` (400 `invalid_event` otherwise); the invoice is paid only when both
    match it. Answers `processed`, `recorded` (stored, invoice unchanged: not payable or
    not matching), `held` (the tenant is suspended: stored, applied on reactivation),
    `duplicate` (a replayed event id: nothing changes) or `ignored` (other event types,
    unknown invoices).
    """
    return service.handle_webhook(db=db, settings=settings, payload=payload, signature=signature)

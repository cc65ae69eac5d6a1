"""POST /api/payments/webhook: signature, tenant resolution, idempotent storage."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from tenantry.invoices import service as invoice_service
from tenantry.invoices.models import Invoice
from tenantry.invoices.schemas import InvoiceCreate, InvoiceLineIn
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.payments.models import PaymentEvent
from tenantry.payments.signature import (
    SignatureExpired,
    SignatureInvalid,
    SignatureMalformed,
    sign_payload,
    verify_signature,
)
from tests.factories import make_tenant
from tests.helpers import code

URL = "/api/payments/webhook"
TOTAL = 4200


@pytest.fixture(scope="module")
def ta(db):
    return make_tenant(db, roles=("client",))


@pytest.fixture(scope="module")
def tb(db):
    return make_tenant(db, roles=("client",))


def make_invoice(db, tenant, *, send=True) -> uuid.UUID:
    data = InvoiceCreate(
        client_id=tenant["client"].user_id,
        lines=[InvoiceLineIn(description="Work", quantity=2, unit_price_cents=TOTAL // 2)],
    )
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        invoice = invoice_service.create_invoice(s, data=data)
        if send:
            invoice_service.transition(s, invoice_id=invoice.id, action="send")
        return invoice.id


def invoice(db, tenant_id, invoice_id) -> Invoice:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        row = s.scalar(select(Invoice).where(Invoice.id == invoice_id))
        assert row is not None
        return row


def events(db, tenant_id) -> list[PaymentEvent]:
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return list(s.scalars(select(PaymentEvent)).all())


def event(
    invoice_id,
    tenant_id,
    *,
    event_id=None,
    type_="payment_intent.succeeded",
    amount=TOTAL,
    currency="usd",
):
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "type": type_,
        "data": {
            "object": {
                "amount": amount,
                "currency": currency,
                "metadata": {"invoice_id": str(invoice_id), "tenant_id": str(tenant_id)},
            }
        },
    }


def deliver(client, settings, body, *, secret=None, timestamp=None, header=None):
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    if header is None:
        header = sign_payload(secret or settings.webhook_secret, raw, timestamp=timestamp)
    return client.post(
        URL, content=raw, headers={"Tenantry-Signature": header, "content-type": "application/json"}
    )


# --- signature (unit) -------------------------------------------------------------------


def test_sign_and_verify_round_trip_and_rotation_with_several_v1():
    payload = b'{"a": 1}'
    header = sign_payload("s3cret", payload, timestamp=1_700_000_000)
    assert verify_signature("s3cret", payload, header, tolerance_s=300, now=1_700_000_100)
    rotated = header + "," + sign_payload("other", payload, timestamp=1).split(",")[1]
    assert verify_signature("s3cret", payload, rotated, tolerance_s=300, now=1_700_000_000)
    with pytest.raises(SignatureInvalid):
        verify_signature("s3cret", payload + b" ", header, tolerance_s=300, now=1_700_000_000)
    with pytest.raises(SignatureExpired):
        verify_signature("s3cret", payload, header, tolerance_s=300, now=1_700_000_301)
    with pytest.raises(SignatureExpired):
        verify_signature("s3cret", payload, header, tolerance_s=300, now=1_699_999_699)
    for bad in (None, "", "t=1", "v1=" + "a" * 64, "t=x,v1=" + "a" * 64, "t=1,v1=zz", "garbage"):
        with pytest.raises(SignatureMalformed):
            verify_signature("s3cret", payload, bad, tolerance_s=300)


# --- webhook ----------------------------------------------------------------------------


def test_a_signed_event_marks_the_sent_invoice_paid_without_any_session(db, client, settings, ta):
    invoice_id = make_invoice(db, ta)
    body = event(invoice_id, ta.id)
    r = deliver(client, settings, body)
    assert r.status_code == 200 and r.json() == {"status": "processed"}
    paid = invoice(db, ta.id, invoice_id)
    assert paid.status == "paid" and paid.paid_at is not None
    stored = [e for e in events(db, ta.id) if e.provider_event_id == body["id"]]
    assert len(stored) == 1 and stored[0].invoice_id == invoice_id
    assert stored[0].payload == body


def test_a_replayed_event_is_a_duplicate_and_changes_nothing(db, client, settings, ta):
    invoice_id = make_invoice(db, ta)
    body = event(invoice_id, ta.id)
    assert deliver(client, settings, body).json() == {"status": "processed"}
    paid_at = invoice(db, ta.id, invoice_id).paid_at
    before = len(events(db, ta.id))
    r = deliver(client, settings, body)
    assert r.status_code == 200 and r.json() == {"status": "duplicate"}
    assert len(events(db, ta.id)) == before
    assert invoice(db, ta.id, invoice_id).paid_at == paid_at


def test_another_event_for_a_paid_invoice_is_stored_and_is_a_no_op(db, client, settings, ta):
    invoice_id = make_invoice(db, ta)
    deliver(client, settings, event(invoice_id, ta.id))
    paid_at = invoice(db, ta.id, invoice_id).paid_at
    assert deliver(client, settings, event(invoice_id, ta.id)).json() == {"status": "processed"}
    assert invoice(db, ta.id, invoice_id).paid_at == paid_at


def test_the_same_event_id_in_two_tenants_is_independent(db, client, settings, ta, tb):
    inv_a, inv_b = make_invoice(db, ta), make_invoice(db, tb)
    shared = f"evt_{uuid.uuid4().hex}"
    assert deliver(client, settings, event(inv_a, ta.id, event_id=shared)).json()["status"] == (
        "processed"
    )
    assert deliver(client, settings, event(inv_b, tb.id, event_id=shared)).json()["status"] == (
        "processed"
    )
    assert invoice(db, tb.id, inv_b).status == "paid"


def test_a_tenant_id_that_disagrees_with_the_invoice_is_refused_and_logged(
    db, client, settings, ta, tb
):
    invoice_a = make_invoice(db, ta)
    before_a, before_b = len(events(db, ta.id)), len(events(db, tb.id))
    with capture_logs() as logs:
        r = deliver(client, settings, event(invoice_a, tb.id))
    assert r.status_code == 400 and code(r) == "tenant_mismatch"
    assert str(ta.id) not in r.text
    assert invoice(db, ta.id, invoice_a).status == "sent"
    assert (len(events(db, ta.id)), len(events(db, tb.id))) == (before_a, before_b)
    assert any(
        e.get("event") == "security_event" and e.get("code") == "tenant_mismatch" for e in logs
    )


def test_an_unknown_invoice_is_ignored_and_nothing_is_stored(db, client, settings, ta):
    before = len(events(db, ta.id))
    r = deliver(client, settings, event(uuid.uuid4(), ta.id))
    assert r.status_code == 200 and r.json() == {"status": "ignored"}
    assert len(events(db, ta.id)) == before


def test_other_event_types_are_ignored(db, client, settings, ta):
    invoice_id = make_invoice(db, ta)
    r = deliver(client, settings, event(invoice_id, ta.id, type_="charge.refunded"))
    assert r.json() == {"status": "ignored"}
    assert invoice(db, ta.id, invoice_id).status == "sent"


@pytest.mark.parametrize("case", ["draft", "amount"])
def test_a_payment_that_cannot_apply_is_recorded_but_the_invoice_is_unchanged(
    db, client, settings, ta, case
):
    invoice_id = make_invoice(db, ta, send=case != "draft")
    amount = TOTAL + 1 if case == "amount" else TOTAL
    body = event(invoice_id, ta.id, amount=amount)
    assert deliver(client, settings, body).json() == {"status": "recorded"}
    assert invoice(db, ta.id, invoice_id).status == ("draft" if case == "draft" else "sent")
    assert body["id"] in [e.provider_event_id for e in events(db, ta.id)]


def test_an_expired_signature_is_refused(db, client, settings, ta):
    invoice_id = make_invoice(db, ta)
    old = int(time.time()) - settings.payments_webhook_tolerance_s - 5
    r = deliver(client, settings, event(invoice_id, ta.id), timestamp=old)
    assert r.status_code == 400 and code(r) == "signature_expired"
    assert invoice(db, ta.id, invoice_id).status == "sent"


def test_a_wrong_secret_or_a_tampered_body_is_refused(db, client, settings, ta):
    invoice_id = make_invoice(db, ta)
    body = event(invoice_id, ta.id)
    r = deliver(client, settings, body, secret="not-the-secret")
    assert r.status_code == 400 and code(r) == "signature_invalid"
    raw = json.dumps(body).encode()
    header = sign_payload(settings.webhook_secret, raw)
    tampered = raw.replace(str(invoice_id).encode(), str(uuid.uuid4()).encode())
    r = deliver(client, settings, tampered, header=header)
    assert r.status_code == 400 and code(r) == "signature_invalid"
    assert invoice(db, ta.id, invoice_id).status == "sent"


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=" + "0" * 64, "nonsense"])
def test_a_missing_or_malformed_signature_is_400(client, settings, ta, header):
    r = deliver(client, settings, event(uuid.uuid4(), ta.id), header=header)
    assert r.status_code == 400 and code(r) == "signature_malformed"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"id": "evt_1"}',
        json.dumps(event("not-a-uuid", uuid.uuid4())).encode(),
        json.dumps(event(uuid.uuid4(), "nope")).encode(),
    ],
)
def test_a_signed_but_malformed_event_is_400(client, settings, raw):
    r = deliver(client, settings, raw)
    assert r.status_code == 400 and code(r) == "invalid_event"


def test_an_oversized_event_is_refused_before_any_work(client, settings):
    # The body limit (webhook class, 256 KiB) refuses it before the route reads it.
    r = deliver(client, settings, b"{" + b" " * (300 * 1024) + b"}")
    assert r.status_code == 413 and code(r) == "payload_too_large"

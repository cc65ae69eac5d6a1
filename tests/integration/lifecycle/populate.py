"""A tenant with rows in EVERY tenant table and stored files, for lifecycle tests.

The demo fillers of every business area run first; ``EXTRA_FILLERS`` adds rows to
tables no demo filler writes. ``test_every_tenant_table_is_covered`` fails when a
tenant table (from the live catalogue) has no row here: a new table must get a filler
(its area's ``demo.fill``, or one below) so export, purge and restore are proven on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import select

from tenantry.areas import demo_fillers
from tenantry.db.engine import Database
from tenantry.idempotency.models import IdempotencyKey
from tenantry.invoices.models import Invoice
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.jobs.models import HeldJob
from tenantry.kit.demo import DemoTenant
from tenantry.payments.models import PaymentEvent
from tenantry.permissions.models import RolePermission
from tenantry.tenants.lifecycle import TenantRef, add_member
from tests.factories import TenantFixture, add_client, make_tenant, make_user


def _idempotency_key(db: Database, tenant: TenantFixture) -> None:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(
            IdempotencyKey(
                key=f"key-{uuid.uuid4().hex}",
                method="POST",
                path="/api/admin/services",
                request_hash="0" * 64,
                response_status=201,
                response_body={"id": str(uuid.uuid4()), "note": "stored response"},
            )
        )


def _payment_event(db: Database, tenant: TenantFixture) -> None:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        invoice = s.scalar(select(Invoice.id).limit(1))
        s.add(
            PaymentEvent(
                provider="test",
                provider_event_id=f"evt_{uuid.uuid4().hex}",
                type="payment_intent.succeeded",
                invoice_id=invoice,
                payload={"amount": 1250, "nested": {"ok": True, "list": [1, 2.5, "x"]}},
            )
        )


def _held_job(db: Database, tenant: TenantFixture) -> None:
    """A job the worker held while the tenant was suspended (exported and restored
    with the tenant, released on its reactivation)."""
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(HeldJob(task_name="reminders.send", args={"reminder_id": str(uuid.uuid4())}))


def _role_permissions(db: Database, tenant: TenantFixture) -> None:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add_all(RolePermission(role="staff", permission=p) for p in ("chat.read", "chat.write"))


EXTRA_FILLERS: tuple[Callable[[Database, TenantFixture], None], ...] = (
    _idempotency_key,
    _payment_event,
    _held_job,
    _role_permissions,
)


def populated_tenant(db: Database) -> TenantFixture:
    tenant = make_tenant(db)
    client2 = add_client(db, tenant)
    consultant = make_user(db)
    add_member(db, tenant_id=tenant.id, user_id=consultant.user_id, role="staff")
    users: dict[str, object] = {role: m.user_id for role, m in tenant.members.items()}
    users |= {"client2": client2.user_id, "consultant": consultant.user_id}
    demo = DemoTenant(TenantRef(tenant.id, tenant.slug, f"Tenant {tenant.slug}"), users)
    for fill in demo_fillers():
        fill(db, demo)
    for extra in EXTRA_FILLERS:
        extra(db, tenant)
    return tenant

"""Demo data: tenants ``acme`` and ``globex`` with one user per role, and a consultant
who is staff of acme and admin of globex (one person, a different role per tenant).
Idempotent: running it again changes nothing that exists."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from tenantry import areas
from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.kit.demo import (
    CONSULTANT,
    CONSULTANT_ROLES,
    DEMO_ROLES,
    DEMO_TENANTS,
    DemoTenant,
    demo_accounts,
)
from tenantry.tenants.lifecycle import TenantRef, add_member, ensure_user, provision_tenant


def demo_fillers() -> list[Callable[[Database, DemoTenant], None]]:
    """Each business area's ``fill(db, demo)``, in the registry's order."""
    return areas.demo_fillers()


def is_empty(db: Database) -> bool:
    with db.system_session(reason="check for demo data") as session:
        return session.scalar(select(Tenant.id).limit(1)) is None


def load_demo_data(db: Database, password: str, *, progress: Callable[[str], None] = print) -> None:
    consultant = ensure_user(db, email=CONSULTANT, password=password, name="Casey Consultant")
    for slug, name in DEMO_TENANTS:
        with db.system_session(reason="demo data") as session:
            existing = session.scalar(select(Tenant).where(Tenant.slug == slug))
            ref = TenantRef(existing.id, existing.slug, existing.name) if existing else None
        if ref is None:
            ref = provision_tenant(db, slug=slug, name=name)
            progress(f"created tenant {slug}")
        demo = DemoTenant(ref)
        for role in DEMO_ROLES:
            email = f"{role}@{slug}.test"
            user_id = ensure_user(
                db, email=email, password=password, name=f"{role.title()} {name.split()[0]}"
            )
            add_member(db, tenant_id=ref.id, user_id=user_id, role=role)
            demo.users[role] = user_id
        # A second client, so "a client never sees another client's records" can be
        # tried on the demo (tenantry probe --a-client2 client2@acme.test).
        client2 = ensure_user(
            db, email=f"client2@{slug}.test", password=password, name=f"Second client {slug}"
        )
        add_member(db, tenant_id=ref.id, user_id=client2, role="client")
        demo.users["client2"] = client2
        add_member(db, tenant_id=ref.id, user_id=consultant, role=CONSULTANT_ROLES[slug])
        demo.users["consultant"] = consultant
        for fill in demo_fillers():
            fill(db, demo)
        progress(f"demo data ready for {slug}")


__all__ = ["DemoTenant", "demo_accounts", "demo_fillers", "is_empty", "load_demo_data"]

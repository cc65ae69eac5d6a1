"""Factories: tenants with members, each with random names so tests never collide."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from tenantry.auth import service as auth_service
from tenantry.auth.models import Membership
from tenantry.bookings.models import Booking
from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.services.models import Service
from tenantry.tenants.lifecycle import add_member, ensure_user, provision_tenant, set_tenant_status

PASSWORD = "correct-horse-battery"


@lru_cache(maxsize=1)
def password_hash() -> str:
    """argon2id is slow by design. Every factory user shares one hash of PASSWORD, made
    with the cheapest argon2id parameters: verification reads the parameters from the
    hash, so signing in as a test user is cheap while real accounts keep the defaults."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


@dataclass
class Member:
    user_id: uuid.UUID
    email: str
    role: str
    password: str = PASSWORD


@dataclass
class TenantFixture:
    id: uuid.UUID
    slug: str
    members: dict[str, Member] = field(default_factory=dict)

    def __getitem__(self, role: str) -> Member:
        return self.members[role]


def make_user(db: Database, *, email: str | None = None) -> Member:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.test"
    return Member(ensure_user(db, email=email, password_hash=password_hash()), email, role="")


def make_tenant(
    db: Database, *, roles: tuple[str, ...] = ("owner", "admin", "staff", "client")
) -> TenantFixture:
    slug = "t-" + uuid.uuid4().hex[:10]
    ref = provision_tenant(db, slug=slug, name=f"Tenant {slug}")
    tenant = TenantFixture(ref.id, ref.slug)
    for role in roles:
        email = f"{role}-{uuid.uuid4().hex[:8]}@{slug}.test"
        user_id = ensure_user(db, email=email, password_hash=password_hash())
        add_member(db, tenant_id=ref.id, user_id=user_id, role=role)
        tenant.members[role] = Member(user_id, email, role)
    return tenant


def add_client(db: Database, tenant: TenantFixture) -> Member:
    """A further client member of ``tenant`` (the fixture's own client is ``tenant["client"]``)."""
    member = make_user(db)
    add_member(db, tenant_id=tenant.id, user_id=member.user_id, role="client")
    return Member(member.user_id, member.email, "client")


def make_service(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    active: bool = True,
    minutes: int = 60,
    price: int = 5000,
    name: str = "Window cleaning",
) -> uuid.UUID:
    """A service of ``tenant_id``, written directly as that tenant."""
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        svc = Service(
            slug="svc-" + uuid.uuid4().hex[:8],
            name=name,
            price_cents=price,
            duration_minutes=minutes,
            active=active,
        )
        s.add(svc)
        s.flush()
        return svc.id


def count_rows(db: Database, tenant_id: uuid.UUID, model: type[Any]) -> int:
    """How many rows of ``model`` the tenant has (read in the tenant's own context)."""
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def make_booking(
    db: Database, tenant_id: uuid.UUID, client_id: uuid.UUID, *, notes: str = ""
) -> uuid.UUID:
    """A pending booking of ``client_id`` three days ahead, on a new service of the tenant."""
    service_id = make_service(db, tenant_id)
    start = datetime.now(UTC) + timedelta(days=3)
    with tenant_context(TenantContext(tenant_id=tenant_id)), db.session() as s:
        row = Booking(client_id=client_id, service_id=service_id, starts_at=start,
                      ends_at=start + timedelta(hours=1), notes=notes)  # fmt: skip
        s.add(row)
        s.flush()
        return row.id


def set_membership(db: Database, tenant: TenantFixture, user_id: uuid.UUID, **values: Any) -> None:
    """Change a member's row behind the app's back (role, status)."""
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.execute(update(Membership).where(Membership.user_id == user_id).values(**values))


REVOCATIONS = ("logout_all", "removed", "suspended")


def revoke(db: Database, tenant: TenantFixture, member: Member, how: str) -> str:
    """Take ``member``'s access to ``tenant`` away one of three ways (``REVOCATIONS``);
    the error code the very next request must be refused with."""
    if how == "logout_all":
        auth_service.revoke_all_sessions(db, member.user_id)
        return "session_revoked"
    if how == "removed":
        set_membership(db, tenant, member.user_id, status="removed")
        return "not_a_member"
    if how == "suspended":
        set_tenant_status(db, tenant.id, "suspended")
        return "tenant_suspended"
    raise ValueError(f"unknown revocation {how!r}")

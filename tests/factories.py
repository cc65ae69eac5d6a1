"""Factories: tenants with members, each with random names so tests never collide."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from argon2 import PasswordHasher

from tenantry.db.engine import Database
from tenantry.tenants.lifecycle import add_member, ensure_user, provision_tenant

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

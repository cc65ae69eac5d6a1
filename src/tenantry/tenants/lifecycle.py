"""Tenant lifecycle operations (system scope): provision and change status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tenantry.auth.models import ROLES, Membership, User
from tenantry.auth.passwords import hash_password
from tenantry.db.engine import Database
from tenantry.db.tenant import TENANT_STATUSES, Tenant, validate_slug
from tenantry.errors import Conflict


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    slug: str
    name: str


def provision_tenant(
    db: Database, *, slug: str, name: str, primary_domain: str | None = None
) -> TenantRef:
    validate_slug(slug)
    with db.system_session(reason=f"provision tenant {slug}") as session:
        tenant = Tenant(
            slug=slug,
            name=name,
            primary_domain=primary_domain.lower() if primary_domain else None,
        )
        session.add(tenant)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"tenant slug {slug!r} or its domain is taken") from exc
        return TenantRef(tenant.id, tenant.slug, tenant.name)


def set_tenant_status(db: Database, tenant_id: uuid.UUID, status: str) -> None:
    if status not in TENANT_STATUSES:
        raise ValueError(f"status must be one of {TENANT_STATUSES}")
    with db.system_session(reason=f"set tenant {tenant_id} {status}") as session:
        # No session-version bump: the status is checked on every request, so members
        # are stopped at once without being signed out of their other tenants.
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(status=status))


def ensure_user(
    db: Database,
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    password_hash: str | None = None,
) -> uuid.UUID:
    """Create the user if the email is new; return its id either way."""
    with db.system_session(reason="ensure user") as session:
        existing = session.scalar(select(User.id).where(User.email.ilike(email)))
        if existing is not None:
            return existing
        if password_hash is None:
            if password is None:
                raise ValueError("give a password or its hash")
            password_hash = hash_password(password)
        user = User(email=email.lower(), name=name, password_hash=password_hash)
        session.add(user)
        session.flush()
        return user.id


def add_member(db: Database, *, tenant_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    with db.system_session(reason="add member") as session:
        existing = session.get(Membership, (tenant_id, user_id))
        if existing is None:
            session.add(Membership(tenant_id=tenant_id, user_id=user_id, role=role))
        else:
            existing.role, existing.status = role, "active"

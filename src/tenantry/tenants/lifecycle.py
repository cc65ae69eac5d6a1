"""Tenant lifecycle operations (system scope): provision and change status.

Every operation here runs as the migrator inside an explicit, named system scope
(``Database.system_session``) and writes its event to the platform audit log in the
same transaction, so an event is on record if and only if it happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.auth.models import ROLES, Membership, User
from tenantry.auth.passwords import hash_password
from tenantry.db.engine import Database
from tenantry.db.tenant import TENANT_STATUSES, Tenant, validate_slug
from tenantry.errors import Conflict, InvalidInput, NotFound
from tenantry.kit.errors import InvalidTransition, SlugTaken
from tenantry.permissions.catalog import DEFAULT_MATRIX
from tenantry.permissions.models import RolePermission
from tenantry.team.invitations import invite_owner
from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds
from tenantry.tenants import audit_log
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.held import release_held_work
from tenantry.tenants.slugs import SLUG_LOCK, check_free, normalize_slug, skeleton

_log = structlog.get_logger("tenantry.lifecycle")


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    slug: str
    name: str


@dataclass(frozen=True)
class OwnerInvitation:
    id: uuid.UUID
    email: str
    expires_at: datetime


@dataclass(frozen=True)
class CreatedTenant:
    """A new tenant and its owner: either a member already (``owner_id``; self sign-up,
    or a new account with a password the operator chose) or invited by e-mail
    (``owner_invitation``), never a password anyone is shown."""

    tenant: TenantRef
    owner_id: uuid.UUID | None
    owner_is_new: bool  # an account was created here
    owner_invitation: OwnerInvitation | None = None


class TenantNotFound(NotFound):
    code = "tenant_not_found"
    message = "No tenant with this slug."


def _check_slug_free(session: Session, slug: str) -> None:
    session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": SLUG_LOCK})
    check_free(session, slug)


def provision_tenant(
    db: Database, *, slug: str, name: str, primary_domain: str | None = None
) -> TenantRef:
    """A bare tenant row (no owner, no settings rows). For demo data and tests, which
    fill their own; people and the API use ``create_tenant``."""
    validate_slug(slug)
    with db.system_session(reason=f"provision tenant {slug}") as session:
        tenant = Tenant(
            slug=slug,
            name=name,
            slug_skeleton=skeleton(slug),
            primary_domain=primary_domain.lower() if primary_domain else None,
        )
        session.add(tenant)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(f"tenant slug {slug!r} or its domain is taken") from exc
        return TenantRef(tenant.id, tenant.slug, tenant.name)


def create_tenant(
    db: Database,
    *,
    slug: str,
    name: str,
    owner_email: str,
    actor: Actor,
    reason: str = "provision a tenant",
    owner_name: str = "",
    owner_password: str | None = None,
    owner_password_hash: str | None = None,
    owner_proven: bool = False,
    primary_domain: str | None = None,
    action: str = "tenant.created",
) -> CreatedTenant:
    """Provision a tenant whole, in ONE transaction: the tenant, its owner, its
    per-tenant singleton settings, the default role → permission rows, and the audit
    entry. Any failure leaves nothing behind.

    The owner joins now only with consent or a password nobody is shown: an existing
    account when ``owner_proven`` (self sign-up: the address was verified and the
    account's password given), a new account when its password (or hash) is given.
    Otherwise nobody is made owner and no account is created: an owner invitation is
    mailed to the address (``team.invitations.invite_owner``), accepted like any other
    — so no temporary password exists, and no account joins a tenant unasked.
    """
    slug = normalize_slug(slug)
    name = " ".join(name.split())
    if not name:
        raise InvalidName()
    email = owner_email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise InvalidEmail()
    with db.system_session(reason=f"create tenant {slug}") as session:
        _check_slug_free(session, slug)
        tenant = Tenant(
            slug=slug,
            name=name[:200],
            slug_skeleton=skeleton(slug),
            primary_domain=primary_domain.lower() if primary_domain else None,
        )
        session.add(tenant)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError as exc:
            raise SlugTaken(f"The slug {slug!r} or the domain is taken.") from exc
        tid = tenant.id
        owner = _owner_joining(
            session, email, owner_name, owner_password, owner_password_hash, owner_proven
        )
        invited = None
        if owner is None:
            invitation = invite_owner(
                session, tenant_id=tid, tenant_name=tenant.name, email=email, name=owner_name
            )
            invited = OwnerInvitation(invitation.id, invitation.email, invitation.expires_at)
        else:
            session.add(Membership(tenant_id=tid, user_id=owner[0].id, role="owner"))
        is_new = owner is not None and owner[1]
        session.add_all(
            [BookingSettings(tenant_id=tid), CommunicationSettings(tenant_id=tid),
             Thresholds(tenant_id=tid)]
        )  # fmt: skip
        session.add_all(
            RolePermission(tenant_id=tid, role=role, permission=permission)
            for role in ("admin", "staff")
            for permission in sorted(DEFAULT_MATRIX[role])
        )
        audit_log.record(
            session,
            actor=actor,
            action=action,
            reason=reason,
            tenant_id=tid,
            slug=slug,
            details={
                "name": tenant.name,
                "owner_email": email,
                "owner_is_new": is_new,
                "owner_invited": invited is not None,
            },
        )
        session.flush()
        return CreatedTenant(
            TenantRef(tid, slug, tenant.name),
            owner[0].id if owner is not None else None,
            is_new,
            invited,
        )


class InvalidName(InvalidInput):
    code = "invalid_name"
    message = "Give the business a name."


class InvalidEmail(InvalidInput):
    code = "invalid_email"
    message = "Give the owner's email address."


def _owner_joining(
    session: Session,
    email: str,
    name: str,
    password: str | None,
    password_hash: str | None,
    proven: bool,
) -> tuple[User, bool] | None:
    """(the account that becomes owner now, whether it was created here) — or None
    when the owner must be invited instead (see ``create_tenant``)."""
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is not None:
        # An existing account keeps its name and password, and joins only if its owner
        # is the one acting (self sign-up), never on an operator's word.
        return (user, False) if proven else None
    if password_hash is None:
        if password is None:
            return None
        password_hash = hash_password(password)
    # Verified: self sign-up proved the address first, or an operator chose the password
    # of an account nobody else had (and hands it over themselves; it is never shown).
    user = User(
        email=email,
        name=name.strip()[:200],
        password_hash=password_hash,
        email_verified_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    return user, True


def find_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug.strip().lower()))
    if tenant is None:
        raise TenantNotFound(f"No tenant with the slug {slug!r}.")
    return tenant


def suspend_tenant(db: Database, *, slug: str, reason: str, actor: Actor) -> TenantRef:
    """Stop a tenant: every member request answers ``tenant_suspended`` from the next
    request on (the status is read on every request), public pages answer 403."""
    return _change_status(db, slug=slug, reason=reason, actor=actor, to="suspended")


def reactivate_tenant(db: Database, *, slug: str, reason: str, actor: Actor) -> TenantRef:
    """Active again; then what was held while suspended is done (``tenants.held``:
    held jobs deferred again, held payment events applied)."""
    ref = _change_status(db, slug=slug, reason=reason, actor=actor, to="active")
    release_held_work(db, ref.id)
    return ref


def _change_status(db: Database, *, slug: str, reason: str, actor: Actor, to: str) -> TenantRef:
    reason = audit_log.require_reason(reason)
    with db.system_session(reason=f"set tenant {slug} {to}") as session:
        tenant = find_tenant(session, slug)
        allowed_from = {"suspended": ("active",), "active": ("suspended",)}[to]
        if tenant.status not in allowed_from:
            raise InvalidTransition(
                f"Tenant {tenant.slug!r} is {tenant.status}; cannot make it {to}."
                + (" A purge is in progress: finish it." if tenant.status == "archived" else "")
            )
        before = tenant.status
        # No session-version bump: the status is checked on every request, so members
        # are stopped at once without being signed out of their other tenants.
        session.execute(update(Tenant).where(Tenant.id == tenant.id).values(status=to))
        audit_log.record(
            session,
            actor=actor,
            action="tenant.suspended" if to == "suspended" else "tenant.reactivated",
            reason=reason,
            tenant_id=tenant.id,
            slug=tenant.slug,
            details={"from": before, "to": to},
        )
        return TenantRef(tenant.id, tenant.slug, tenant.name)


def set_tenant_status(db: Database, tenant_id: uuid.UUID, status: str) -> None:
    """Low-level status change without audit (tests). Operators use suspend/reactivate."""
    if status not in TENANT_STATUSES:
        raise ValueError(f"status must be one of {TENANT_STATUSES}")
    with db.system_session(reason=f"set tenant {tenant_id} {status}") as session:
        session.execute(update(Tenant).where(Tenant.id == tenant_id).values(status=status))


def ensure_user(
    db: Database,
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    password_hash: str | None = None,
) -> uuid.UUID:
    """Create the user if the email is new; return its id either way. An account made
    here (by an operator, the demo, a test) counts as verified."""
    with db.system_session(reason="ensure user") as session:
        existing = session.scalar(select(User.id).where(User.email.ilike(email)))
        if existing is not None:
            return existing
        if password_hash is None:
            if password is None:
                raise ValueError("give a password or its hash")
            password_hash = hash_password(password)
        user = User(
            email=email.lower(),
            name=name,
            password_hash=password_hash,
            email_verified_at=datetime.now(UTC),
        )
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


def set_operator(db: Database, *, email: str, grant: bool, reason: str, actor: Actor) -> None:
    """Grant or revoke the platform-operator flag (``users.is_superadmin``), audited."""
    reason = audit_log.require_reason(reason)
    with db.system_session(reason="set platform operator") as session:
        user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None:
            raise NotFound(f"No account with the email {email!r}.")
        user.is_superadmin = grant
        audit_log.record(
            session,
            actor=actor,
            action="operator.granted" if grant else "operator.revoked",
            reason=reason,
            details={"email": user.email, "user_id": str(user.id)},
        )

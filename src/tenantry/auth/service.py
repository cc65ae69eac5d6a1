"""Accounts: sign in, sessions, switch tenant, sign out (here or everywhere).

These run before a tenant context exists, so each opens its own short unit of work
with exactly the context it needs: the user's (to read their own memberships through
the ``member_self_read`` policy) or the chosen tenant's (to write a membership).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from tenantry.auth import accounts
from tenantry.auth.models import Membership, User, UserSession
from tenantry.auth.ratelimit import LoginLimiter
from tenantry.auth.schemas import MembershipOut
from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.errors import EmailNotVerified, InvalidCredentials, NotAMember, TenantSuspended
from tenantry.isolation.context import TenantContext, tenant_context


@dataclass(frozen=True)
class SignIn:
    user: User
    tenant: MembershipOut | None
    session_id: uuid.UUID


def _user_context(user_id: uuid.UUID | None) -> TenantContext:
    return TenantContext(tenant_id=None, user_id=user_id, scope="public")


def memberships_of(db: Database, user_id: uuid.UUID) -> list[MembershipOut]:
    """The user's active memberships in every tenant, for the tenant switcher.

    Deliberately a Core query on the bare table: the ORM guard (rightly) refuses
    tenant-owned entities without a tenant, and the database answers it only through
    the read-only ``member_self_read`` policy keyed on ``app.current_user_id``.
    """
    m = Membership.__table__.c
    with tenant_context(_user_context(user_id)), db.session() as s:
        rows = s.execute(
            select(m.tenant_id, m.role, Tenant.slug, Tenant.name, Tenant.status)
            .join(Tenant, Tenant.id == m.tenant_id)
            .where(m.user_id == user_id, m.status == "active")
            .order_by(Tenant.name)
        ).all()
    return [
        MembershipOut(
            tenant_id=r.tenant_id,
            tenant_slug=r.slug,
            tenant_name=r.name,
            tenant_status=r.status,
            role=r.role,
        )
        for r in rows
    ]


def tenant_slug(db: Database, tenant_id: uuid.UUID) -> str:
    with tenant_context(_user_context(None)), db.session() as s:
        slug = s.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
    if slug is None:
        raise NotAMember()
    return slug


def get_user(db: Database, user_id: uuid.UUID) -> User | None:
    with tenant_context(_user_context(user_id)), db.session() as s:
        return s.get(User, user_id)


def _remember_tenant(db: Database, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    with tenant_context(_user_context(user_id)), db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(last_tenant_id=tenant_id))


def choose_tenant(
    memberships: list[MembershipOut], *, requested: str | None, last_tenant_id: uuid.UUID | None
) -> MembershipOut | None:
    """An explicit request wins; else the last active tenant; else the only one; else
    none — the user chooses. Never a silent pick among several."""
    if requested is not None:
        chosen = next((m for m in memberships if m.tenant_slug == requested), None)
        if chosen is None:
            raise NotAMember()
        if chosen.tenant_status != "active":
            raise TenantSuspended()
        return chosen
    usable = [m for m in memberships if m.tenant_status == "active"]
    last = next((m for m in usable if m.tenant_id == last_tenant_id), None)
    if last is not None:
        return last
    return usable[0] if len(usable) == 1 else None


def login(
    db: Database,
    limiter: LoginLimiter,
    *,
    email: str,
    password: str,
    requested_tenant: str | None,
    address: str,
    max_age_s: int,
) -> SignIn:
    limiter.before_attempt(account=email, address=address)
    account = accounts.lookup(db, email)
    if not accounts.password_matches(db, account, password) or account is None:
        limiter.failed(account=email, address=address)
        raise InvalidCredentials()
    limiter.succeeded(account=email, address=address)
    if not account.verified:
        raise EmailNotVerified()
    return sign_in(db, account.user_id, requested_tenant=requested_tenant, max_age_s=max_age_s)


def sign_in(
    db: Database, user_id: uuid.UUID, *, requested_tenant: str | None, max_age_s: int
) -> SignIn:
    """Open a session for a user whose identity was just proven (password, link)."""
    user = get_user(db, user_id)
    if user is None:
        raise InvalidCredentials()
    memberships = memberships_of(db, user.id)
    chosen = choose_tenant(
        memberships, requested=requested_tenant, last_tenant_id=user.last_tenant_id
    )
    if chosen is not None:
        _remember_tenant(db, user.id, chosen.tenant_id)
    return SignIn(user, chosen, open_session(db, user.id, max_age_s=max_age_s))


def switch_tenant(db: Database, *, user_id: uuid.UUID, slug: str) -> MembershipOut:
    chosen = choose_tenant(memberships_of(db, user_id), requested=slug, last_tenant_id=None)
    assert chosen is not None
    _remember_tenant(db, user_id, chosen.tenant_id)
    return chosen


def open_session(db: Database, user_id: uuid.UUID, *, max_age_s: int) -> uuid.UUID:
    """A new server-side session for ``user_id`` (its id goes into the cookie).

    The user's sessions older than the absolute timeout are dropped on the way: their
    cookies are refused anyway, and this keeps the table to live sessions.
    """
    cutoff = datetime.now(UTC) - timedelta(seconds=max_age_s)
    with tenant_context(_user_context(user_id)), db.session() as s:
        s.execute(
            delete(UserSession).where(
                UserSession.user_id == user_id, UserSession.created_at < cutoff
            )
        )
        row = UserSession(user_id=user_id)
        s.add(row)
        s.flush()
        return row.id


def end_session(db: Database, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Log out: the session row goes, so every copy of its cookie is refused at once."""
    with tenant_context(_user_context(user_id)), db.session() as s:
        s.execute(
            delete(UserSession).where(UserSession.id == session_id, UserSession.user_id == user_id)
        )


def end_other_sessions(db: Database, *, user_id: uuid.UUID, keep: uuid.UUID | None) -> None:
    """Every session of the user but ``keep`` (all of them when ``keep`` is None)."""
    with tenant_context(_user_context(user_id)), db.session() as s:
        query = delete(UserSession).where(UserSession.user_id == user_id)
        if keep is not None:
            query = query.where(UserSession.id != keep)
        s.execute(query)


def revoke_all_sessions(db: Database, user_id: uuid.UUID) -> int:
    """Bump the session version and drop every session row: every cookie and tenant
    signature issued before is dead on its next use."""
    with tenant_context(_user_context(user_id)), db.session() as s:
        version = s.scalar(
            update(User)
            .where(User.id == user_id)
            .values(session_version=User.session_version + 1)
            .returning(User.session_version)
        )
        s.execute(delete(UserSession).where(UserSession.user_id == user_id))
    return int(version or 0)

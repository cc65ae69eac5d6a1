"""Self sign-up at a tenant, and confirming it from the e-mailed link.

``register`` answers the same for every address — new, existing, verified or not —
and signs nobody in. A new address gets an unverified account (its password is the
one typed) and a *verify* link; an existing one gets no change at all, only a message
to its owner with a link to join that tenant. The link is the same kind in both cases:
``verify_email`` redeems it with the account's password, which proves both halves —
the person controls the address (the link) and is the one who chose the password.
So someone who registers a stranger's address never gets in (no link), and the
stranger who clicks a link they did not ask for never confirms someone else's password
(they do not know it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.accounts.mail import queue_mail
from tenantry.auth import accounts, tokens
from tenantry.auth.models import AccountToken, Membership, User
from tenantry.auth.passwords import hash_password
from tenantry.auth.ratelimit import AccountLimiter, LoginLimiter
from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.errors import InvalidCredentials, NotFound, TenantSuspended
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.settings import Settings


@dataclass(frozen=True)
class TenantBrief:
    id: uuid.UUID
    slug: str
    name: str


def signup_tenant(db: Database, slug: str) -> TenantBrief:
    with tenant_context(accounts.nobody()), db.session() as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound("No such tenant.")
    if tenant.status != "active":
        raise TenantSuspended()
    return TenantBrief(tenant.id, tenant.slug, tenant.name)


def user_context(user_id: uuid.UUID, tenant_id: uuid.UUID | None = None) -> TenantContext:
    return TenantContext(tenant_id=tenant_id, user_id=user_id, scope="public")


def new_token(
    s: Session, *, user_id: uuid.UUID, purpose: tokens.Purpose, tenant_id: uuid.UUID | None
) -> AccountToken:
    token = AccountToken(
        user_id=user_id,
        purpose=purpose,
        signup_tenant_id=tenant_id,
        expires_at=datetime.now(UTC) + tokens.LIFETIMES[purpose],
    )
    s.add(token)
    s.flush()
    return token


def register(
    db: Database,
    limiter: AccountLimiter,
    *,
    email: str,
    password: str,
    name: str,
    tenant: TenantBrief,
    address: str,
) -> None:
    """Sign up at ``tenant``. Same answer, same work, for every address (see module)."""
    limiter.action(address=address)
    limiter.mail(to=email)
    new_hash = hash_password(password)  # spent for known addresses too: equal timing
    existing = accounts.lookup(db, email)
    if existing is None:
        user_id = uuid.uuid4()
        try:
            with tenant_context(user_context(user_id)), db.session() as s:
                s.add(User(id=user_id, email=email, name=name.strip(), password_hash=new_hash))
                s.flush()
                token = new_token(s, user_id=user_id, purpose="verify_email", tenant_id=tenant.id)
                queue_mail(
                    s,
                    template="verify_email",
                    to=email,
                    values={"tenant_name": tenant.name, "name": name.strip()},
                    link=("verify_email", payload_of(token, tenant.id)),
                )
            return
        except IntegrityError:  # registered a moment ago by someone else: it exists now
            existing = accounts.lookup(db, email)
            if existing is None:
                raise
    with tenant_context(user_context(existing.user_id)), db.session() as s:
        token = new_token(s, user_id=existing.user_id, purpose="verify_email", tenant_id=tenant.id)
        queue_mail(
            s,
            template="account_exists",
            to=email,
            values={"tenant_name": tenant.name},
            link=("verify_email", payload_of(token, tenant.id)),
        )


def payload_of(token: AccountToken, tenant_id: uuid.UUID | None) -> dict[str, str]:
    payload = {"t": str(token.id), "u": str(token.user_id)}
    if tenant_id is not None:
        payload["n"] = str(tenant_id)
    return payload


@dataclass(frozen=True)
class TokenRef:
    token_id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID | None


def read_token(settings: Settings, purpose: tokens.Purpose, token: str) -> TokenRef:
    payload = tokens.read(settings, purpose, token)
    try:
        return TokenRef(
            uuid.UUID(payload["t"]),
            uuid.UUID(payload["u"]),
            uuid.UUID(payload["n"]) if payload.get("n") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise tokens.InvalidToken() from exc


def own_email(db: Database, user_id: uuid.UUID) -> str:
    with tenant_context(user_context(user_id)), db.session() as s:
        email = s.scalar(select(User.email).where(User.id == user_id))
    if email is None:
        raise tokens.InvalidToken()
    return email


def consume(s: Session, ref: TokenRef, purpose: str) -> AccountToken:
    """Mark the token used, in the caller's transaction; ``InvalidToken`` unless it is
    this user's, of this purpose, unused and unexpired. One statement, so two redemptions
    at once cannot both succeed."""
    now = datetime.now(UTC)
    used = s.scalar(
        update(AccountToken)
        .where(
            AccountToken.id == ref.token_id,
            AccountToken.user_id == ref.user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(AccountToken)
    )
    if not isinstance(used, AccountToken):
        raise tokens.InvalidToken()
    return used


def verify_email(
    db: Database,
    settings: Settings,
    limiter: LoginLimiter,
    *,
    token: str,
    password: str,
    address: str,
) -> uuid.UUID:
    """Redeem a sign-up link with the account's password: the address is verified and
    the account joins the link's tenant as a client (unless it has a membership there
    already — a removed member stays removed). Returns the user id (then signed in)."""
    ref = read_token(settings, "verify_email", token)
    email = own_email(db, ref.user_id)
    limiter.before_attempt(account=email, address=address)
    account = accounts.lookup(db, email)
    if account is None or account.user_id != ref.user_id:
        raise tokens.InvalidToken()
    if not accounts.password_matches(db, account, password):
        limiter.failed(account=email, address=address)
        raise InvalidCredentials()
    limiter.succeeded(account=email, address=address)
    with tenant_context(user_context(ref.user_id, ref.tenant_id)), db.session() as s:
        consume(s, ref, "verify_email")
        s.execute(
            update(User)
            .where(User.id == ref.user_id, User.email_verified_at.is_(None))
            .values(email_verified_at=datetime.now(UTC))
        )
        if ref.tenant_id is not None:
            existing = s.scalar(select(Membership).where(Membership.user_id == ref.user_id))
            if existing is None:
                s.add(Membership(user_id=ref.user_id, role="client", status="active"))
                s.execute(
                    update(User).where(User.id == ref.user_id).values(last_tenant_id=ref.tenant_id)
                )
    return ref.user_id

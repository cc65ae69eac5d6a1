"""Changing a password (signed in) and resetting a forgotten one (by e-mailed link).

* Change: the current password is checked like a sign-in (same per-account-and-address
  failure count); then every *other* session of the user ends — a thief's copy of a
  cookie dies, this browser stays signed in.
* Reset: ``request_reset`` answers the same for every address and defers exactly one
  message — a link for an existing account, a "there is no account" note otherwise.
  ``confirm_reset`` sets the new password, marks the address verified (the link proved
  it: this is also how the owner of an address claims an account someone else
  registered with it and never confirmed), ends every session and bumps the session
  version (every tenant signature dies too), and burns the account's other open reset
  links.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, update

from tenantry.accounts.mail import queue_mail
from tenantry.accounts.signup import (
    consume,
    new_token,
    own_email,
    payload_of,
    read_token,
    user_context,
)
from tenantry.auth import accounts
from tenantry.auth.models import AccountToken, User, UserSession
from tenantry.auth.passwords import hash_password
from tenantry.auth.ratelimit import AccountLimiter, LoginLimiter
from tenantry.db.engine import Database
from tenantry.errors import InvalidCredentials
from tenantry.isolation.context import tenant_context
from tenantry.settings import Settings


def change_password(
    db: Database,
    limiter: LoginLimiter,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    current: str,
    new: str,
    address: str,
) -> None:
    email = own_email(db, user_id)
    limiter.before_attempt(account=email, address=address)
    account = accounts.lookup(db, email)
    if account is None or not accounts.password_matches(db, account, current):
        limiter.failed(account=email, address=address)
        raise InvalidCredentials("The current password is wrong.")
    limiter.succeeded(account=email, address=address)
    new_hash = hash_password(new)
    with tenant_context(user_context(user_id)), db.session() as s:
        s.execute(update(User).where(User.id == user_id).values(password_hash=new_hash))
        s.execute(
            delete(UserSession).where(UserSession.user_id == user_id, UserSession.id != session_id)
        )


def request_reset(db: Database, limiter: AccountLimiter, *, email: str, address: str) -> None:
    limiter.action(address=address)
    limiter.mail(to=email)
    account = accounts.lookup(db, email)
    if account is None:
        with tenant_context(accounts.nobody()), db.session() as s:
            queue_mail(s, template="no_account", to=email, values={})
        return
    with tenant_context(user_context(account.user_id)), db.session() as s:
        token = new_token(s, user_id=account.user_id, purpose="reset_password", tenant_id=None)
        queue_mail(
            s,
            template="reset_password",
            to=email,
            values={},
            link=("reset_password", payload_of(token, None)),
        )


def confirm_reset(
    db: Database,
    settings: Settings,
    limiter: AccountLimiter,
    *,
    token: str,
    new_password: str,
    address: str,
) -> None:
    limiter.action(address=address)
    ref = read_token(settings, "reset_password", token)
    new_hash = hash_password(new_password)
    now = datetime.now(UTC)
    with tenant_context(user_context(ref.user_id)), db.session() as s:
        consume(s, ref, "reset_password")
        s.execute(
            update(User)
            .where(User.id == ref.user_id)
            .values(
                password_hash=new_hash,
                session_version=User.session_version + 1,
                email_verified_at=func.coalesce(User.email_verified_at, now),
            )
        )
        s.execute(delete(UserSession).where(UserSession.user_id == ref.user_id))
        s.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == ref.user_id,
                AccountToken.purpose == "reset_password",
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
        )

"""Reaching an account by e-mail address — the narrow database path.

The app role cannot read other people's rows of ``users``, nor anyone's password hash
(migration ``20261130_0013``). Sign-in, sign-up, verification and password reset all
start from an address typed by someone who is not signed in, so they go through the
two ``SECURITY DEFINER`` functions of migration ``20261130_0012``: ``account_lookup``
(id, verified, password *setting*) and ``account_password_matches`` (does this hash,
computed by the app with that setting, equal the stored one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, text

from tenantry.auth.passwords import candidate
from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context

NO_USER = uuid.UUID(int=0)


@dataclass(frozen=True)
class Account:
    user_id: uuid.UUID
    verified: bool
    setting: str | None


def nobody() -> TenantContext:
    """No tenant, no user: the context of someone not signed in."""
    return TenantContext(tenant_id=None, scope="public")


def lookup(db: Database, email: str) -> Account | None:
    with tenant_context(nobody()), db.session() as s:
        row = s.execute(
            text("select user_id, email_verified, password_setting from account_lookup(:e)"),
            {"e": email.strip().lower()},
        ).first()
    return Account(row.user_id, row.email_verified, row.password_setting) if row else None


def password_matches(db: Database, account: Account | None, password: str) -> bool:
    """Whether ``password`` is the account's. Does the same work (one argon2 hash, one
    query) when there is no account, so the answer's timing says nothing either."""
    hashed = candidate(account.setting if account else None, password)
    with tenant_context(nobody()), db.session() as s:
        matches = s.scalar(
            select(
                func.account_password_matches(account.user_id if account else NO_USER, hashed or "")
            )
        )
    return bool(matches) and account is not None and hashed is not None

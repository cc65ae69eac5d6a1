"""Joining a tenant from an invitation: the invited person's side.

Consent is the whole point: an invitation adds nobody until the owner of the address
acts. Two ways:

* **signed in** as an account whose *verified* address is the invitation's — by the
  e-mailed link, or from ``GET /api/auth/invitations`` (which lists exactly those);
* **not signed in**, with the link, when the address has no confirmed account: a new
  account is made with the password given (the link proved the address), or an
  unconfirmed one — possibly registered by someone else — is claimed: its password is
  replaced, it becomes verified, every session and tenant signature of it dies.

An address with a confirmed account must sign in first (``sign_in_required``): the
link alone never signs anyone into an existing account.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.auth import accounts, tokens
from tenantry.auth.models import Membership, User, UserSession
from tenantry.auth.passwords import hash_password
from tenantry.auth.ratelimit import AccountLimiter
from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.errors import Conflict, Forbidden, InvalidInput, TenantSuspended
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.settings import Settings
from tenantry.team.models import Invitation
from tenantry.team.schemas import InvitationPreviewOut, PendingInvitationOut
from tenantry.team.service import AlreadyMember


class SignInRequired(Conflict):
    code = "sign_in_required"
    message = "This address has an account: sign in with it, then accept the invitation."


class PasswordRequired(InvalidInput):
    code = "password_required"
    message = "Choose a password (at least 10 characters) to create your account."


class InvitationForAnotherAccount(Forbidden):
    code = "invitation_for_another_account"
    message = "This invitation was sent to another address than the one you signed in with."


@dataclass(frozen=True)
class InvitationRef:
    invitation_id: uuid.UUID
    tenant_id: uuid.UUID


def read_token(settings: Settings, token: str) -> InvitationRef:
    payload = tokens.read(settings, "invitation", token)
    try:
        return InvitationRef(uuid.UUID(payload["i"]), uuid.UUID(payload["n"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise tokens.InvalidToken() from exc


def _in(tenant_id: uuid.UUID, user_id: uuid.UUID | None = None) -> TenantContext:
    return TenantContext(tenant_id=tenant_id, user_id=user_id, scope="public")


def _open_invitation(s: Session, ref: InvitationRef, *, lock: bool = False) -> Invitation:
    query = select(Invitation).where(Invitation.id == ref.invitation_id)
    invitation = s.scalar(query.with_for_update() if lock else query)
    now = datetime.now(UTC)
    if invitation is None or invitation.status(now) != "pending":
        raise tokens.InvalidToken()
    return invitation


def pending_for(db: Database, user_id: uuid.UUID) -> list[PendingInvitationOut]:
    """Open invitations to the signed-in user's verified address, in every tenant."""
    me = TenantContext(tenant_id=None, user_id=user_id, scope="public")
    with tenant_context(me), db.session() as s:
        rows = s.execute(text("select * from pending_invitations_of_current_user()")).all()
    return [PendingInvitationOut.model_validate(r, from_attributes=True) for r in rows]


def ref_of_pending(db: Database, user_id: uuid.UUID, invitation_id: uuid.UUID) -> InvitationRef:
    """An invitation from the user's own pending list (else ``InvalidToken``)."""
    for item in pending_for(db, user_id):
        if item.id == invitation_id:
            return InvitationRef(invitation_id, item.tenant_id)
    raise tokens.InvalidToken()


def preview(db: Database, ref: InvitationRef) -> InvitationPreviewOut:
    with tenant_context(_in(ref.tenant_id)), db.session() as s:
        invitation = _open_invitation(s, ref)
        tenant = s.get(Tenant, ref.tenant_id)
        assert tenant is not None
        out = InvitationPreviewOut(
            tenant_slug=tenant.slug,
            tenant_name=tenant.name,
            role=invitation.role,
            email=invitation.email,
            name=invitation.name,
            expires_at=invitation.expires_at,
            account="new",
        )
    account = accounts.lookup(db, out.email)
    return out.model_copy(update={"account": "existing" if account and account.verified else "new"})


def _join(s: Session, invitation: Invitation, user_id: uuid.UUID) -> None:
    """The membership (new, or a removed one back) and the invitation marked accepted."""
    membership = s.scalar(select(Membership).where(Membership.user_id == user_id))
    if membership is not None and membership.status == "active":
        raise AlreadyMember("You are already a member of this tenant.")
    if membership is None:
        s.add(Membership(user_id=user_id, role=invitation.role, status="active"))
    else:
        membership.role, membership.status = invitation.role, "active"
    invitation.accepted_at = datetime.now(UTC)
    invitation.accepted_by_id = user_id
    s.execute(update(User).where(User.id == user_id).values(last_tenant_id=invitation.tenant_id))
    s.flush()


def _tenant_active(s: Session, tenant_id: uuid.UUID) -> None:
    if s.scalar(select(Tenant.status).where(Tenant.id == tenant_id)) != "active":
        raise TenantSuspended()


def accept_signed_in(db: Database, ref: InvitationRef, *, user_id: uuid.UUID) -> None:
    with tenant_context(_in(ref.tenant_id, user_id)), db.session() as s:
        invitation = _open_invitation(s, ref, lock=True)
        _tenant_active(s, ref.tenant_id)
        me = s.execute(select(User.email, User.email_verified_at).where(User.id == user_id)).first()
        if me is None or me.email.lower() != invitation.email or me.email_verified_at is None:
            raise InvitationForAnotherAccount()
        _join(s, invitation, user_id)


def accept_with_password(
    db: Database,
    limiter: AccountLimiter,
    ref: InvitationRef,
    *,
    password: str | None,
    name: str | None,
    address: str,
) -> uuid.UUID:
    """Not signed in: create the account, or claim an unconfirmed one. Returns its id."""
    limiter.action(address=address)
    with tenant_context(_in(ref.tenant_id)), db.session() as s:
        email = _open_invitation(s, ref).email
    account = accounts.lookup(db, email)
    if account is not None and account.verified:
        raise SignInRequired()
    if password is None:
        raise PasswordRequired()
    new_hash = hash_password(password)
    user_id = account.user_id if account else uuid.uuid4()
    try:
        with tenant_context(_in(ref.tenant_id, user_id)), db.session() as s:
            invitation = _open_invitation(s, ref, lock=True)
            _tenant_active(s, ref.tenant_id)
            chosen_name = (name if name is not None else invitation.name).strip()
            now = datetime.now(UTC)
            if account is None:
                s.add(
                    User(
                        id=user_id,
                        email=email,
                        name=chosen_name,
                        password_hash=new_hash,
                        email_verified_at=now,
                    )
                )
                s.flush()
            else:
                # Claimed: whoever registered the address before loses every hold on it.
                values: dict[str, object] = {
                    "password_hash": new_hash,
                    "email_verified_at": now,
                    "session_version": User.session_version + 1,
                }
                if name is not None:
                    values["name"] = chosen_name
                s.execute(update(User).where(User.id == user_id).values(**values))
                s.execute(delete(UserSession).where(UserSession.user_id == user_id))
            _join(s, invitation, user_id)
    except IntegrityError as exc:  # the address got an account a moment ago
        raise SignInRequired() from exc
    return user_id

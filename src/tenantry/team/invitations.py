"""Invitations from the tenant's side: create, list, revoke, resend. Flush only.

Creating one looks up nothing about the address outside this tenant: the only question
asked is "is an active member of *this* tenant using it?" (409 ``already_member``), which
any team admin can answer from the member list anyway. Otherwise the answer is built
from the invitation alone — the address, the role and the name the inviter typed — and
one e-mail is queued to the address. Nobody joins until the address's owner opens it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from tenantry.accounts.mail import queue_mail
from tenantry.auth import tokens
from tenantry.db.tenant import Tenant
from tenantry.isolation.context import TenantContext, require_tenant_id
from tenantry.kit.errors import RecordClosed
from tenantry.kit.pagination import Page, PageParams
from tenantry.kit.repository import Repository
from tenantry.kit.repository import page as kit_page
from tenantry.team import repository
from tenantry.team.models import Invitation
from tenantry.team.schemas import InvitationOut, InviteIn
from tenantry.team.service import AlreadyMember, require_owner_for

invitation_closed = partial(RecordClosed, "This invitation was already accepted or revoked.")

invitations = Repository(Invitation, not_found="No such invitation.")


def invitation_out(invitation: Invitation, now: datetime | None = None) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        name=invitation.name,
        status=invitation.status(now or datetime.now(UTC)),
        invited_by=invitation.invited_by_id,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        accepted_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )


def _open() -> ColumnElement[bool]:
    return and_(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))


def _status_filter(status: str, now: datetime) -> ColumnElement[bool]:
    return {
        "pending": and_(_open(), Invitation.expires_at > now),
        "expired": and_(_open(), Invitation.expires_at <= now),
        "accepted": Invitation.accepted_at.is_not(None),
        "revoked": Invitation.revoked_at.is_not(None),
    }[status]


def _send(session: Session, invitation: Invitation, tenant_name: str | None = None) -> None:
    if tenant_name is None:
        tenant_name = session.scalar(select(Tenant.name).where(Tenant.id == require_tenant_id()))
    queue_mail(
        session,
        template="invitation",
        to=invitation.email,
        values={
            "tenant_name": tenant_name or "",
            "role": invitation.role,
            "name": invitation.name,
        },
        link=("invitation", {"i": str(invitation.id), "n": str(invitation.tenant_id)}),
    )


def invite_owner(
    session: Session, *, tenant_id: uuid.UUID, tenant_name: str, email: str, name: str = ""
) -> Invitation:
    """The first owner of a tenant an operator provisions (system scope, in the
    provisioning transaction): an owner invitation mailed to the address, never a
    password. Whoever opens the link joins as owner — signed in as that address, or
    choosing the password of a new account (``team.joining``)."""
    invitation = Invitation(
        tenant_id=tenant_id,
        email=email.strip().lower(),
        role="owner",
        name=name.strip()[:200],
        invited_by_id=None,
        expires_at=datetime.now(UTC) + tokens.LIFETIMES["invitation"],
    )
    session.add(invitation)
    session.flush()
    session.refresh(invitation)
    _send(session, invitation, tenant_name)
    return invitation


def _create(
    session: Session, *, email: str, role: str, name: str, by: uuid.UUID | None
) -> Invitation:
    now = datetime.now(UTC)
    # Inviting again replaces the open invitation (its link stops working).
    session.execute(
        update(Invitation).where(Invitation.email == email, _open()).values(revoked_at=now)
    )
    invitation = Invitation(
        email=email,
        role=role,
        name=name.strip(),
        invited_by_id=by,
        expires_at=now + tokens.LIFETIMES["invitation"],
    )
    session.add(invitation)
    session.flush()
    session.refresh(invitation)
    _send(session, invitation)
    return invitation


def invite(session: Session, *, ctx: TenantContext, data: InviteIn) -> InvitationOut:
    require_owner_for(ctx, data.role)
    if repository.active_member_with_email(session, email=data.email):
        raise AlreadyMember()
    return invitation_out(
        _create(session, email=data.email, role=data.role, name=data.name, by=ctx.user_id)
    )


def list_invitations(
    session: Session, *, status: str | None, page: PageParams
) -> Page[InvitationOut]:
    now = datetime.now(UTC)
    stmt = select(Invitation).order_by(Invitation.created_at.desc(), Invitation.id)
    if status is not None:
        stmt = stmt.where(_status_filter(status, now))
    return kit_page(session, stmt, page).map(lambda i: invitation_out(i, now))


def revoke(session: Session, *, ctx: TenantContext, invitation_id: uuid.UUID) -> None:
    """The link stops working at once. Only an owner may revoke an owner invitation."""
    invitation = invitations.for_update(session, invitation_id)
    require_owner_for(ctx, invitation.role)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise invitation_closed()
    invitation.revoked_at = datetime.now(UTC)
    session.flush()


def resend(session: Session, *, ctx: TenantContext, invitation_id: uuid.UUID) -> InvitationOut:
    """A fresh invitation (new link, new expiry) to the same address and role; the old
    link stops working."""
    invitation = invitations.for_update(session, invitation_id)
    require_owner_for(ctx, invitation.role)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise invitation_closed()
    if repository.active_member_with_email(session, email=invitation.email):
        raise AlreadyMember()
    fresh = _create(
        session, email=invitation.email, role=invitation.role, name=invitation.name, by=ctx.user_id
    )
    return invitation_out(fresh)

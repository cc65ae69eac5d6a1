"""The invited person's endpoints (``/api/auth/invitations``, public scope): list your
open invitations, see what a link offers, accept. See ``team.joining`` for the rules.
"""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from tenantry.auth import service
from tenantry.auth.dependencies import (
    CurrentUser,
    DatabaseDep,
    MaybeUser,
    SettingsDep,
    SignedInUser,
)
from tenantry.auth.responses import client_address, signed_in
from tenantry.auth.schemas import SessionOut
from tenantry.db.engine import Database
from tenantry.routing import BAD_TOKEN, SIGNED_IN, Responses, public_router
from tenantry.settings import Settings
from tenantry.team import joining
from tenantry.team.schemas import (
    AcceptInvitationIn,
    InvitationPreviewOut,
    InvitationTokenIn,
    PendingInvitationOut,
)

router = public_router(prefix="/api/auth/invitations", tags=["accounts"])

LIMITED: Responses = {429: {"description": "Too many requests from this address"}}


@router.get("", responses=SIGNED_IN)
async def my_invitations(user: CurrentUser, db: DatabaseDep) -> list[PendingInvitationOut]:
    """Open invitations to your (verified) address, in every tenant."""
    return await run_in_threadpool(joining.pending_for, db, user.user_id)


@router.post(
    "/preview",
    responses={**BAD_TOKEN, **LIMITED},
)
async def preview_invitation(
    body: InvitationTokenIn, request: Request, db: DatabaseDep, settings: SettingsDep
) -> InvitationPreviewOut:
    """What an invitation link offers: tenant, role, address, and whether the address
    has an account to sign in with (else accepting sets a password)."""
    request.app.state.account_limiter.action(address=client_address(request))
    ref = joining.read_token(settings, body.token)
    return await run_in_threadpool(joining.preview, db, ref)


@router.post(
    "/accept",
    responses={
        **BAD_TOKEN,
        403: {"description": "Signed in as another address (`invitation_for_another_account`)"},
        409: {"description": "Sign in first (`sign_in_required`) or `already_member`"},
        **LIMITED,
    },
)
async def accept_invitation(
    body: AcceptInvitationIn, current: MaybeUser, request: Request, response: Response,
    db: DatabaseDep, settings: SettingsDep,
) -> SessionOut:  # fmt: skip
    """Accept an invitation from its link. Signed in: as the invited address. Not signed
    in: only when the address has no confirmed account — give the password to set (a
    new account, or an unconfirmed one claimed: its old password and sessions end).
    Either way you join with the invited role and that tenant becomes the active one."""
    ref = joining.read_token(settings, body.token)
    if current is not None:
        await run_in_threadpool(joining.accept_signed_in, db, ref, user_id=current.user_id)
        return await _reissue_into(settings, db, response, current, ref.tenant_id)
    user_id = await run_in_threadpool(
        joining.accept_with_password, db, request.app.state.account_limiter, ref,
        password=body.password, name=body.name, address=client_address(request),
    )  # fmt: skip
    slug = await run_in_threadpool(service.tenant_slug, db, ref.tenant_id)
    return await signed_in(settings, db, response, user_id, tenant=slug)


@router.post(
    "/{invitation_id}/accept",
    responses={**SIGNED_IN, **BAD_TOKEN, 409: {"description": "`already_member`"}, **LIMITED},
)
async def accept_listed_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, request: Request, response: Response,
    db: DatabaseDep, settings: SettingsDep,
) -> SessionOut:  # fmt: skip
    """Accept one of your open invitations (from ``GET /api/auth/invitations``)."""
    request.app.state.account_limiter.action(address=client_address(request))
    ref = await run_in_threadpool(joining.ref_of_pending, db, user.user_id, invitation_id)
    await run_in_threadpool(joining.accept_signed_in, db, ref, user_id=user.user_id)
    return await _reissue_into(settings, db, response, user, ref.tenant_id)


async def _reissue_into(
    settings: Settings, db: Database, response: Response, user: SignedInUser, tenant_id: uuid.UUID
) -> SessionOut:
    slug = await run_in_threadpool(service.tenant_slug, db, tenant_id)
    await run_in_threadpool(service.switch_tenant, db, user_id=user.user_id, slug=slug)
    return await signed_in(
        settings, db, response, user.user_id, tenant=slug,
        session_id=user.session.session_id, issued_at=user.session.issued_at,
    )  # fmt: skip

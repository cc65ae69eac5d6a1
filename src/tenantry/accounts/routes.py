"""Account endpoints: sign-up and its confirmation, passwords (public scope). The
invited person's endpoints (``/api/auth/invitations``) are in ``team.invitee_routes``.

Every endpoint that sends mail answers the same whatever the address (202, one
message queued either way); every one is rate-limited per client address, and those
that mail, per recipient too. Links in the messages point at ``TENANTRY_PUBLIC_URL``
pages (``/verify-email``, ``/reset-password``, ``/accept-invitation``, each with
``?token=``), which post the token back here.
"""

from __future__ import annotations

from fastapi import Request, Response, status
from fastapi.concurrency import run_in_threadpool

from tenantry.accounts import recovery, signup
from tenantry.auth.dependencies import (
    CurrentUser,
    DatabaseDep,
    SettingsDep,
)
from tenantry.auth.responses import client_address, host_slug, signed_in
from tenantry.auth.schemas import (
    AcceptedOut,
    OkOut,
    PasswordChangeIn,
    RegisterIn,
    ResetConfirmIn,
    ResetRequestIn,
    SessionOut,
    VerifyEmailIn,
)
from tenantry.errors import TenantryError
from tenantry.routing import BAD_TOKEN, SIGNED_IN, Responses, public_router

router = public_router(prefix="/api/auth", tags=["accounts"])

LIMITED: Responses = {
    429: {"description": "Too many requests from this address, or mails to this one"}
}


# ------------------------------------------------------------------------- sign-up


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"description": "No such tenant"}, 403: {}, **LIMITED},
)
async def register(body: RegisterIn, request: Request, db: DatabaseDep) -> AcceptedOut:
    """Sign up as a client of the tenant named by the host (or ``tenant``). Nobody is
    signed in: a message goes to the address — for a new address, a link to confirm it
    (with the password chosen here); for an address that has an account already, a note
    to its owner with a link to join (their own password unchanged). The answer is the
    same in both cases."""
    slug = host_slug(request) or body.tenant
    if slug is None:
        raise TenantryError("Name the tenant to join (`tenant`) or register on its host.")
    tenant = await run_in_threadpool(signup.signup_tenant, db, slug)
    await run_in_threadpool(
        signup.register, db, request.app.state.account_limiter, email=body.email,
        password=body.password, name=body.name, tenant=tenant, address=client_address(request),
    )  # fmt: skip
    return AcceptedOut(message="Check your inbox: we sent a link to confirm this address.")


@router.post(
    "/verify-email",
    responses={**BAD_TOKEN, 401: {"description": "Wrong password"}, **LIMITED},
)
async def verify_email(
    body: VerifyEmailIn, request: Request, response: Response, db: DatabaseDep,
    settings: SettingsDep,
) -> SessionOut:  # fmt: skip
    """Confirm a sign-up from its e-mailed link, with the account's password: the
    address is verified, the account joins the tenant it signed up at as a client, and
    it is signed in."""
    user_id = await run_in_threadpool(
        signup.verify_email, db, settings, request.app.state.login_limiter, token=body.token,
        password=body.password, address=client_address(request),
    )  # fmt: skip
    return await signed_in(settings, db, response, user_id, tenant=None)


# ------------------------------------------------------------------------- passwords


@router.post(
    "/password",
    responses={**SIGNED_IN, 429: {"description": "Too many wrong passwords"}},
)
async def change_password(
    body: PasswordChangeIn, user: CurrentUser, request: Request, db: DatabaseDep
) -> OkOut:
    """Change your password (the current one is checked). Every other session of yours
    ends; this one stays signed in."""
    await run_in_threadpool(
        recovery.change_password, db, request.app.state.login_limiter, user_id=user.user_id,
        session_id=user.session.session_id, current=body.current_password,
        new=body.new_password, address=client_address(request),
    )  # fmt: skip
    return OkOut()


@router.post(
    "/password-reset",
    status_code=status.HTTP_202_ACCEPTED,
    responses=LIMITED,
)
async def request_password_reset(
    body: ResetRequestIn, request: Request, db: DatabaseDep
) -> AcceptedOut:
    """Ask for a password-reset link. The same answer for every address; the message
    says so when the address has no account."""
    await run_in_threadpool(
        recovery.request_reset, db, request.app.state.account_limiter, email=body.email,
        address=client_address(request),
    )  # fmt: skip
    return AcceptedOut(message="If this address has an account, a reset link is on its way.")


@router.post("/password-reset/confirm", responses={**BAD_TOKEN, **LIMITED})
async def confirm_password_reset(
    body: ResetConfirmIn, request: Request, db: DatabaseDep, settings: SettingsDep
) -> OkOut:
    """Set a new password from a reset link (single-use, valid one hour). The address
    counts as verified; every session of the account ends. Then sign in."""
    await run_in_threadpool(
        recovery.confirm_reset, db, settings, request.app.state.account_limiter,
        token=body.token, new_password=body.new_password, address=client_address(request),
    )  # fmt: skip
    return OkOut()

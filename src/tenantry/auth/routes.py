"""Sign-in, sessions and the tenant switch (public scope). Sign-up, verification and
passwords: ``accounts.routes``; the invited person's endpoints: ``team.invitee_routes``."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from tenantry.auth import cookies, service
from tenantry.auth.dependencies import CurrentUser, DatabaseDep, SettingsDep
from tenantry.auth.responses import client_address, host_slug, session_out, start_session
from tenantry.auth.schemas import LoginIn, OkOut, SessionOut, SwitchIn
from tenantry.errors import NotAuthenticated
from tenantry.http_errors import ErrorResponse
from tenantry.isolation.scopes import scoped_router

# Built here, not with tenantry.routing (which sits above auth).
router = scoped_router(
    "public", prefix="/api", tags=["auth"], error_model=ErrorResponse, error_codes=(422,)
)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Refused; see error.code"},
}


@router.post("/auth/login", responses={**ERRORS, 429: {}})
async def login(
    body: LoginIn, request: Request, response: Response, db: DatabaseDep, settings: SettingsDep
) -> SessionOut:
    """Sign in. Without ``tenant`` (and off a tenant's host) the active tenant is the
    last one used, else the only one, else none until ``POST /api/tenant/switch``."""
    requested = body.tenant or host_slug(request)
    address = client_address(request)
    result = await run_in_threadpool(
        service.login,
        db,
        request.app.state.login_limiter,
        email=body.email,
        password=body.password,
        requested_tenant=requested,
        address=address,
        max_age_s=settings.session_absolute_timeout_s,
    )
    start_session(settings, response, result.user, result.tenant, result.session_id)
    memberships = await run_in_threadpool(service.memberships_of, db, result.user.id)
    return session_out(result.user, result.tenant, memberships)


@router.get("/auth/me", responses=ERRORS)
async def me(user: CurrentUser, db: DatabaseDep) -> SessionOut:
    """The signed-in user, their active tenant and all their memberships."""
    record = await run_in_threadpool(service.get_user, db, user.user_id)
    if record is None:
        raise NotAuthenticated()
    memberships = await run_in_threadpool(service.memberships_of, db, user.user_id)
    active = next((m for m in memberships if m.tenant_id == user.session.tenant_id), None)
    return session_out(record, active, memberships)


@router.post("/auth/logout")
async def logout(
    request: Request, response: Response, db: DatabaseDep, settings: SettingsDep
) -> OkOut:
    """Sign out this browser: its session is ended on the server, so a copy of its
    cookies saved before is refused from now on. Always 200 (signed out either way)."""
    session = cookies.read_session(settings, request)
    if session is not None:
        await run_in_threadpool(
            service.end_session, db, user_id=session.user_id, session_id=session.session_id
        )
    cookies.clear_all(settings, response)
    return OkOut()


@router.post("/auth/logout-all", responses=ERRORS)
async def logout_all(
    user: CurrentUser, response: Response, db: DatabaseDep, settings: SettingsDep
) -> OkOut:
    """Sign out everywhere: every session and tenant signature issued so far dies."""
    await run_in_threadpool(service.revoke_all_sessions, db, user.user_id)
    cookies.clear_all(settings, response)
    return OkOut()


@router.post("/tenant/switch", responses=ERRORS)
async def switch(
    body: SwitchIn, user: CurrentUser, response: Response, db: DatabaseDep, settings: SettingsDep
) -> SessionOut:
    """Make another of your tenants the active one; reissues both cookies."""
    chosen = await run_in_threadpool(
        service.switch_tenant, db, user_id=user.user_id, slug=body.tenant
    )
    record = await run_in_threadpool(service.get_user, db, user.user_id)
    if record is None:
        raise NotAuthenticated()
    start_session(
        settings,
        response,
        record,
        chosen,
        user.session.session_id,
        issued_at=user.session.issued_at,
    )
    memberships = await run_in_threadpool(service.memberships_of, db, user.user_id)
    return session_out(record, chosen, memberships)

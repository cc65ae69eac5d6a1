"""Switching tenant on a tenant host: the old host issues a hand-off, the new host's
page redeems it for a session there (see ``tokens``)."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tenantry.auth import service
from tenantry.auth.dependencies import CurrentUser, DatabaseDep, SettingsDep
from tenantry.auth.responses import start_session
from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.errors import NotAuthenticated
from tenantry.handoff import tokens
from tenantry.routing import public_router
from tenantry.settings import Settings

router = public_router(prefix="/api", tags=["auth"])
_used = tokens.UsedNonces()


class HandoffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=63, description="Slug of one of your tenants.")


class HandoffOut(BaseModel):
    url: str = Field(description="Open it in the browser: the chosen tenant's host.")
    expires_in: int = Field(description="Seconds the link works (once).")


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=400)


class RedeemOut(BaseModel):
    ok: bool = True
    tenant: str


def tenant_origin(settings: Settings, request: Request, slug: str, domain: str | None) -> str:
    """``scheme://<slug>.<base-domain>[:port]`` (or the tenant's own domain), on the
    port this request came in on."""
    host = request.headers.get("host", "")
    port = host.rsplit(":", 1)[1] if ":" in host and not host.endswith("]") else ""
    scheme = "https" if settings.https else request.url.scheme
    name = domain or f"{slug}.{settings.base_domain}"
    return f"{scheme}://{name}" + (f":{port}" if port else "")


@router.post(
    "/tenant/handoff",
    responses={401: {"description": "Not signed in"}, 403: {"description": "not_a_member"}},
)
async def start_handoff(
    body: HandoffIn, request: Request, user: CurrentUser, db: DatabaseDep, settings: SettingsDep
) -> HandoffOut:
    """Switch tenant from a tenant's host: the address of the chosen tenant's host with
    a one-time sign-in token (in the fragment) that works for a minute."""
    memberships = await run_in_threadpool(service.memberships_of, db, user.user_id)
    chosen = service.choose_tenant(memberships, requested=body.tenant, last_tenant_id=None)
    assert chosen is not None  # a requested tenant is found or refused
    record = await run_in_threadpool(service.get_user, db, user.user_id)
    if record is None or record.session_version != user.session.session_version:
        raise NotAuthenticated()
    token = tokens.issue(
        settings.signing_keys,
        user_id=user.user_id,
        tenant_id=chosen.tenant_id,
        session_version=record.session_version,
    )
    domain = await run_in_threadpool(_primary_domain, db, chosen.tenant_id)
    origin = tenant_origin(settings, request, chosen.tenant_slug, domain)
    return HandoffOut(url=f"{origin}/auth/handoff#{token}", expires_in=tokens.MAX_AGE_S)


@router.post(
    "/auth/handoff",
    responses={403: {"description": "handoff_invalid"}},
)
async def redeem_handoff(
    body: RedeemIn, request: Request, response: Response, db: DatabaseDep, settings: SettingsDep
) -> RedeemOut:
    """Exchange a hand-off token for a session on this tenant host (once, within a
    minute, for this host's tenant only, while the user's sessions are valid)."""
    claim = tokens.read(settings.signing_keys, body.token)
    host_tenant = getattr(request.state, "host_tenant", None)
    if host_tenant is None or host_tenant.id != claim.tenant_id:
        raise tokens.HandoffInvalid()
    record = await run_in_threadpool(service.get_user, db, claim.user_id)
    if record is None or record.session_version != claim.session_version:
        raise tokens.HandoffInvalid()
    memberships = await run_in_threadpool(service.memberships_of, db, claim.user_id)
    chosen = next(
        (m for m in memberships if m.tenant_id == claim.tenant_id and m.tenant_status == "active"),
        None,
    )
    if chosen is None:
        raise tokens.HandoffInvalid()
    _used.claim(claim.nonce)  # last: a refused attempt does not burn the token
    await run_in_threadpool(
        service.switch_tenant, db, user_id=claim.user_id, slug=chosen.tenant_slug
    )
    # A session of its own on this host (server-side, so signing out here ends it).
    session_id = await run_in_threadpool(
        service.open_session, db, record.id, max_age_s=settings.session_absolute_timeout_s
    )
    start_session(settings, response, record, chosen, session_id)
    return RedeemOut(tenant=chosen.tenant_slug)


def _primary_domain(db: Database, tenant_id: uuid.UUID) -> str | None:
    """The tenant's own domain, when it has one (the edge resolves it to the tenant)."""
    with db.system_session(reason="tenant host for a hand-off") as s:
        return s.scalar(select(Tenant.primary_domain).where(Tenant.id == tenant_id))


routers = [router]

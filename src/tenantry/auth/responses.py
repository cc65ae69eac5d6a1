"""What the account endpoints share: the session body, the cookies, who is asking."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from tenantry.auth import cookies, service
from tenantry.auth.models import User
from tenantry.auth.schemas import MembershipOut, SessionOut, TenantOut, UserOut
from tenantry.db.engine import Database
from tenantry.settings import Settings


def session_out(
    user: User, active: MembershipOut | None, memberships: list[MembershipOut]
) -> SessionOut:
    return SessionOut(
        user=UserOut(
            id=user.id, email=user.email, name=user.name, is_superadmin=user.is_superadmin
        ),
        active_tenant=TenantOut(
            id=active.tenant_id,
            slug=active.tenant_slug,
            name=active.tenant_name,
            status=active.tenant_status,
        )
        if active
        else None,
        role=active.role if active else None,
        memberships=memberships,
    )


def start_session(
    settings: Settings,
    response: Response,
    user: User,
    active: MembershipOut | None,
    session_id: uuid.UUID,
    issued_at: int | None = None,
) -> None:
    cookies.issue_cookies(
        settings,
        response,
        session_id=session_id,
        user_id=user.id,
        session_version=user.session_version,
        tenant_id=active.tenant_id if active else None,
        tenant_slug=active.tenant_slug if active else None,
        issued_at=issued_at,
    )


def host_slug(request: Request) -> str | None:
    host_tenant = getattr(request.state, "host_tenant", None)
    return host_tenant.slug if host_tenant else None


def client_address(request: Request) -> str:
    """The TCP peer, or the forwarded client behind a trusted proxy (set by the server)."""
    return request.client.host if request.client else "unknown"


async def signed_in(
    settings: Settings, db: Database, response: Response, user_id: uuid.UUID, *, tenant: str | None,
    session_id: uuid.UUID | None = None, issued_at: int | None = None,
) -> SessionOut:  # fmt: skip
    """Cookies for ``user_id`` (a new session unless ``session_id`` is kept), and the body."""
    if session_id is None:
        result = await run_in_threadpool(
            service.sign_in, db, user_id, requested_tenant=tenant,
            max_age_s=settings.session_absolute_timeout_s,
        )  # fmt: skip
        user, active, session_id = result.user, result.tenant, result.session_id
    else:
        found = await run_in_threadpool(service.get_user, db, user_id)
        assert found is not None
        user = found
        memberships = await run_in_threadpool(service.memberships_of, db, user_id)
        active = next((m for m in memberships if m.tenant_slug == tenant), None)
    start_session(settings, response, user, active, session_id, issued_at=issued_at)
    memberships = await run_in_threadpool(service.memberships_of, db, user_id)
    return session_out(user, active, memberships)

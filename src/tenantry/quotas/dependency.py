"""The tenant routes' budget checks: ``refuse_spent_quota`` before authentication
(reads only), ``enforce_quota`` after it (counts)."""

from __future__ import annotations

import functools

import structlog
from fastapi import Request

from tenantry.auth import cookies
from tenantry.auth.dependencies import CurrentTenant, settings_of
from tenantry.db.unit import active_unit, ensure_checked
from tenantry.quotas.limiter import QuotaExceeded


async def refuse_spent_quota(request: Request) -> None:
    """429 at once when the signed session's tenant or user has spent its budget.

    No database work: the session cookie's signature is checked, nothing else, so an
    abusive tenant's surplus requests cost the other tenants as little as possible.
    Nothing is counted here (``enforce_quota`` counts, after authentication). On shared
    storage only a tenant or user this process saw spent lately is read (one round trip
    the rest of the traffic does not pay; ``QuotaLimiter.refuse_if_spent``)."""
    limiter = request.app.state.quotas
    if not limiter.enabled:
        return
    session = cookies.read_session(settings_of(request), request)
    if session is None or session.tenant_id is None:
        return
    try:
        await limiter.refuse_if_spent(session.tenant_id, session.user_id)
    except QuotaExceeded:
        # The refusal's security event and request metrics belong to the signed
        # session's tenant (``session_tenant``: the name the event sink trusts for it).
        request.state.tenant_id = session.tenant_id
        structlog.contextvars.bind_contextvars(
            session_tenant=str(session.tenant_id), user=str(session.user_id)
        )
        raise


async def enforce_quota(request: Request, ctx: CurrentTenant) -> None:
    """Count the request against its tenant's and user's budgets (429 past them).

    It depends on ``require_tenant`` and uses the context that dependency verified —
    the signed session's tenant and user — so no header, host or body can choose
    whose budget is spent, and an unauthenticated request never reaches it.

    Only a request whose access check passed is counted (a revoked session spends no
    budget). When ``require_tenant`` deferred that check into the request's unit
    (``tenantry.db.unit``), the count is handed to the unit too: it runs in the unit's
    call right after the check passed and before anything else of the request (no
    call of its own); where it cannot be counted there (shared storage, a
    tenant's budget not known yet), the check is run first, here.
    """
    limiter = request.app.state.quotas
    if not limiter.enabled or ctx.tenant_id is None:
        return
    unit = active_unit()
    if unit is not None and unit.pending:
        if limiter.counts_here(ctx.tenant_id):
            unit.after_check(functools.partial(limiter.check_here, ctx.tenant_id, ctx.user_id))
            return
        await ensure_checked()
    await limiter.check(ctx.tenant_id, ctx.user_id)

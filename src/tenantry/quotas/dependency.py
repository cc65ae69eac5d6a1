"""``enforce_quota``: the tenant routes' budget check, after authentication."""

from __future__ import annotations

from fastapi import Request

from tenantry.auth.dependencies import CurrentTenant


async def enforce_quota(request: Request, ctx: CurrentTenant) -> None:
    """Count the request against its tenant's and user's budgets (429 past them).

    It depends on ``require_tenant`` and uses the context that dependency verified —
    the signed session's tenant and user — so no header, host or body can choose
    whose budget is spent, and an unauthenticated request never reaches it.
    """
    limiter = request.app.state.quotas
    if limiter.enabled and ctx.tenant_id is not None:
        await limiter.check(ctx.tenant_id, ctx.user_id)

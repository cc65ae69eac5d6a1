"""``Actor``: the signed-in member a request acts for, as a route dependency.

Routes never dig the user out of the tenant context (and never ``assert`` it is
there): a route that acts for someone declares ``actor: Actor``; a portal route
declares ``client: PortalClient``, which also requires the client role. Services
receive the actor (or its ``user_id``) as an argument.

    def record_expense(ctx: ExpensesWrite, actor: Actor, session: TenantSession, ...):
        service.record(session, recorded_by=actor.user_id, data=body)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from tenantry.auth.dependencies import RequireRole, require_tenant
from tenantry.errors import NotAuthenticated
from tenantry.isolation.context import TenantContext


@dataclass(frozen=True)
class ActingUser:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str


def acting_user(ctx: TenantContext) -> ActingUser:
    """The context's member; a context without one is refused (fail closed)."""
    if ctx.user_id is None or ctx.tenant_id is None or ctx.role is None:
        raise NotAuthenticated()
    return ActingUser(user_id=ctx.user_id, tenant_id=ctx.tenant_id, role=ctx.role)


async def current_actor(ctx: Annotated[TenantContext, Depends(require_tenant)]) -> ActingUser:
    return acting_user(ctx)


async def portal_client(
    ctx: Annotated[TenantContext, Depends(RequireRole("client"))],
) -> ActingUser:
    return acting_user(ctx)


Actor = Annotated[ActingUser, Depends(current_actor)]
# A client of the tenant, in the portal: its ``user_id`` is the ``owner`` of every
# portal query (``Repository.get(..., owner=client.user_id)``).
PortalClient = Annotated[ActingUser, Depends(portal_client)]

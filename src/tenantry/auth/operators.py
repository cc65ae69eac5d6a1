"""The platform operator: a signed-in user with ``users.is_superadmin``.

Platform operators see aggregate, cross-tenant operational data (the security view,
``/api/ops/...``); being an owner or admin of a tenant gives no such right. A refusal
is a security event (``operator_required``), so tenant members probing the operator
surface show up in the operator's own view.

Use ``PlatformOperator`` in a route signature (system-scope routers).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from tenantry.auth.dependencies import SignedInUser, _refuse, database_of, require_user
from tenantry.auth.models import User
from tenantry.db.engine import Database
from tenantry.errors import Forbidden
from tenantry.isolation.context import TenantContext, tenant_context


class OperatorRequired(Forbidden):
    code = "operator_required"
    message = "Only platform operators may do this."


def is_platform_operator(db: Database, user_id: uuid.UUID) -> bool:
    # The user pinned explicitly: RLS on users shows the app role a row only for the
    # pinned user (or the pinned tenant's members), whatever context the caller is in.
    me = TenantContext(tenant_id=None, user_id=user_id, scope="public")
    with tenant_context(me), db.session() as session:
        return bool(session.scalar(select(User.is_superadmin).where(User.id == user_id)))


async def require_platform_operator(
    request: Request, user: Annotated[SignedInUser, Depends(require_user)]
) -> SignedInUser:
    if not await run_in_threadpool(is_platform_operator, database_of(request), user.user_id):
        raise _refuse(request, OperatorRequired(), user=user.user_id)
    return user


PlatformOperator = Annotated[SignedInUser, Depends(require_platform_operator)]

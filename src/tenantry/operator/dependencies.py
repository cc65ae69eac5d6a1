"""Who is calling the operator API, and why.

Authentication and the platform-operator check are ``auth.operators``'s
(``require_platform_operator``: signed-in, ``is_superadmin`` read fresh on every
request), shared with the observability views. This adds what the audit log needs —
the operator's email for the actor label — and the stated reason every access needs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from tenantry.auth.dependencies import DatabaseDep
from tenantry.auth.models import User
from tenantry.auth.operators import PlatformOperator
from tenantry.tenants.audit_log import Actor, require_reason


@dataclass(frozen=True)
class Operator:
    user_id: uuid.UUID
    email: str
    request_id: str | None

    def actor(self) -> Actor:
        return Actor(
            label=f"operator:{self.email}", user_id=self.user_id, request_id=self.request_id
        )


async def current_operator(request: Request, user: PlatformOperator, db: DatabaseDep) -> Operator:
    def email() -> str:
        with db.session() as session:
            return str(session.scalar(select(User.email).where(User.id == user.user_id)))

    return Operator(
        user.user_id, await run_in_threadpool(email), getattr(request.state, "request_id", None)
    )


def stated_reason(
    reason: Annotated[
        str | None,
        Query(
            description="Why you access this (at least 8 characters). Required: every "
            "operator access is written to the platform audit log.",
        ),
    ] = None,
) -> str:
    return require_reason(reason)


CurrentOperator = Annotated[Operator, Depends(current_operator)]
StatedReason = Annotated[str, Depends(stated_reason)]

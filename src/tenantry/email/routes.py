"""Email: send a test message through the same SMTP path the reminders use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body

from tenantry.auth.dependencies import SettingsDep, TenantSession
from tenantry.email import service
from tenantry.email.schemas import SentEmailOut, TestEmailIn
from tenantry.kit.actor import Actor
from tenantry.permissions.access import EmailTest
from tenantry.routing import tenant_router

router = tenant_router(prefix="/api/admin/email", tags=["email"])


@router.post(
    "/test",
    responses={
        422: {
            "description": "The address is not a member of this tenant (`recipient_not_in_team`)"
        },
        502: {"description": "The mail server failed (`mail_unavailable`)"},
    },
)
def send_test_email(
    ctx: EmailTest,
    actor: Actor,
    session: TenantSession,
    settings: SettingsDep,
    body: Annotated[TestEmailIn | None, Body()] = None,
) -> SentEmailOut:
    """Send a test message to you (or to a member of your team) right now, and show
    what was sent. It goes directly, not through the job queue, so the answer tells
    whether mail works."""
    sent = service.send_test_email(
        session, settings=settings, sender_id=actor.user_id, to=body.to if body else None
    )
    return SentEmailOut.model_validate(sent)

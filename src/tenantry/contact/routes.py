"""The public contact form and the admin inbox of its messages."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request, status

from tenantry.auth.dependencies import HostTenant, SettingsDep, TenantSession
from tenantry.contact import service
from tenantry.contact.schemas import ContactIn, ContactReceivedOut, ContactSubmissionOut
from tenantry.errors import NotFound
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import ContactRead, ContactWrite
from tenantry.routing import NO_CONTENT, NOT_FOUND, public_router, tenant_router

public = public_router(prefix="/api/public", tags=["contact"])
admin = tenant_router(prefix="/api/admin", tags=["contact"])
routers = [public, admin]


def contact_limiter(request: Request, settings: SettingsDep) -> service.ContactLimiter:
    return service.ContactLimiter.of(request.app.state, settings.contact_form_rate)


Limiter = Annotated[service.ContactLimiter, Depends(contact_limiter)]


@public.post(
    "/contact",
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "No tenant at this host"},
        429: {"description": "Too many messages from this address (`rate_limited`)"},
    },
)
def submit_contact(
    ctx: HostTenant, session: TenantSession, limiter: Limiter, request: Request, body: ContactIn
) -> ContactReceivedOut:
    """Send a message to the tenant named by the host (rate-limited per address)."""
    if ctx.tenant_id is None:  # pragma: no cover - HostTenant always names a tenant
        raise NotFound()
    address = request.client.host if request.client else "unknown"
    saved = service.submit(
        session, limiter=limiter, tenant_id=ctx.tenant_id, address=address, data=body
    )
    return ContactReceivedOut(id=saved.id, received_at=saved.created_at)


@admin.get("/contact-submissions")
def list_contact_submissions(
    ctx: ContactRead, session: TenantSession, page: Pagination
) -> Page[ContactSubmissionOut]:
    """Messages sent through this tenant's contact form, newest first."""
    return service.list_submissions(session, page=page).map(ContactSubmissionOut.model_validate)


@admin.delete("/contact-submissions/{submission_id}", **NO_CONTENT, responses=NOT_FOUND)
def delete_contact_submission(
    ctx: ContactWrite, session: TenantSession, submission_id: uuid.UUID
) -> None:
    """Delete a message from the inbox (spam, or once it has been dealt with)."""
    service.delete_submission(session, submission_id=submission_id)

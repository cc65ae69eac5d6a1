"""Attachments: the kit's repository, the list order, and the scanner's tenant look-up.

Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tenantry.attachments.models import Attachment
from tenantry.expenses.repository import expenses
from tenantry.kit.repository import Repository, built_once, where_given
from tenantry.service_requests.repository import requests

# The parent vanishing between the check and the insert is the parent's 404.
attachments = Repository(
    Attachment,
    not_found="No such attachment.",
    constraints={
        "fk_attachments_service_request_id": requests.not_found,
        "fk_attachments_expense_id": expenses.not_found,
    },
)


@built_once
def oldest_first(
    *, service_request_id: uuid.UUID | None = None, expense_id: uuid.UUID | None = None
) -> Select[Attachment]:
    stmt = attachments.select().order_by(Attachment.created_at, Attachment.id)
    return where_given(
        stmt,
        (Attachment.service_request_id, service_request_id),
        (Attachment.expense_id, expense_id),
    )


def tenant_of(system_session: Session, *, attachment_id: uuid.UUID) -> uuid.UUID | None:
    """The attachment's tenant — for a SYSTEM session only (the antivirus callback).

    Deliberately narrow: it selects the tenant id and nothing else, so the privileged
    lookup cannot leak a row's content; the update itself runs in that tenant's scope.
    """
    return system_session.scalar(select(Attachment.tenant_id).where(Attachment.id == attachment_id))

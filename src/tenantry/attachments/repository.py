"""Queries on attachments. Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tenantry.attachments.models import Attachment
from tenantry.expenses.models import Expense
from tenantry.service_requests.models import ServiceRequest


def get(
    session: Session, *, attachment_id: uuid.UUID, for_update: bool = False
) -> Attachment | None:
    query = select(Attachment).where(Attachment.id == attachment_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def request_client(session: Session, *, service_request_id: uuid.UUID) -> uuid.UUID | None:
    """The client of a service request of this tenant, or None when there is no such request."""
    return session.scalar(
        select(ServiceRequest.client_id).where(ServiceRequest.id == service_request_id)
    )


def expense_exists(session: Session, *, expense_id: uuid.UUID) -> bool:
    return session.scalar(select(Expense.id).where(Expense.id == expense_id)) is not None


def add(session: Session, attachment: Attachment) -> Attachment:
    session.add(attachment)
    session.flush()
    session.refresh(attachment)
    return attachment


def page(
    session: Session,
    *,
    service_request_id: uuid.UUID | None = None,
    expense_id: uuid.UUID | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Attachment], int]:
    query = select(Attachment)
    if service_request_id is not None:
        query = query.where(Attachment.service_request_id == service_request_id)
    if expense_id is not None:
        query = query.where(Attachment.expense_id == expense_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Attachment.created_at, Attachment.id).limit(limit).offset(offset)
    )
    return list(rows), total


def tenant_of(system_session: Session, *, attachment_id: uuid.UUID) -> uuid.UUID | None:
    """The attachment's tenant — for a SYSTEM session only (the antivirus callback).

    Deliberately narrow: it selects the tenant id and nothing else, so the privileged
    lookup cannot leak a row's content; the update itself runs in that tenant's scope.
    """
    return system_session.scalar(select(Attachment.tenant_id).where(Attachment.id == attachment_id))

"""Operator API bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tenantry.kit.schemas import Output


class TenantSummary(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    status: str
    created_at: datetime
    rows: int = Field(description="Rows of the tenant across every tenant table.")
    files: int
    file_bytes: int


class TenantList(BaseModel):
    items: list[TenantSummary]


class TableCount(BaseModel):
    table: str
    rows: int


class TenantDetail(BaseModel):
    tenant: TenantSummary
    tables: list[TableCount]


class TableRows(BaseModel):
    tenant: str
    table: str
    offset: int
    limit: int
    rows: list[dict[str, Any]]


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit log.")


class CreateTenantIn(BaseModel):
    slug: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    owner_email: str = Field(min_length=3, max_length=320)
    owner_name: str = Field(default="", max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class OwnerInvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    expires_at: datetime


class CreatedTenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    owner_id: uuid.UUID | None = Field(
        description="Always null here: the owner joins by accepting the invitation."
    )
    owner_is_new: bool
    owner_invitation: OwnerInvitationOut | None = Field(
        description="The owner invitation mailed to `owner_email` (a signed link, valid "
        "7 days; `POST /api/auth/invitations/accept`). No password is created or shown."
    )


class StatusOut(BaseModel):
    slug: str
    status: str


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    tenant_id: uuid.UUID | None
    tenant: str | None
    reason: str
    details: dict[str, Any]
    request_id: str | None


class AuditLogOut(BaseModel):
    items: list[AuditEntryOut]


class MemberRoleIn(BaseModel):
    role: str = Field(description="owner, admin, staff or client.")
    reason: str = Field(min_length=1, max_length=2000)


class MemberChangeOut(Output):
    user_id: uuid.UUID
    email: str
    before: str
    after: str

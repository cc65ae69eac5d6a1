"""Request and response models for team management."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tenantry.auth.schemas import EmailStr, Password, Token
from tenantry.kit.schemas import Input, Output

Role = Literal["owner", "admin", "staff", "client"]
MemberStatus = Literal["active", "removed"]


class TeamMemberOut(Output):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    status: MemberStatus
    joined_at: datetime


class InviteIn(Input):
    email: EmailStr
    role: Role
    name: str = Field(
        default="",
        max_length=200,
        description="How to greet the person in the invitation (shown as typed; an "
        "account's own name is never looked up).",
    )


InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]


class InvitationOut(BaseModel):
    """An invitation as this tenant sees it. It names an address, never an account: the
    answer is the same whether the address has an account anywhere or not."""

    id: uuid.UUID
    email: str
    role: Role
    name: str = Field(description="The name the inviter typed.")
    status: InvitationStatus
    invited_by: uuid.UUID | None = Field(description="User id of the member who invited.")
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class RoleChangeIn(Input):
    role: Role


# ------------------------------------------------ the invited person's side


class InvitationTokenIn(BaseModel):
    token: Token


class AcceptInvitationIn(BaseModel):
    token: Token
    password: Password | None = Field(
        default=None,
        description="Only when not signed in and the address has no confirmed account yet: "
        "the password to set.",
    )
    name: str | None = Field(
        default=None, max_length=200, description="Your name, for a new account."
    )


class PendingInvitationOut(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_name: str
    role: str
    name: str = Field(description="The name the inviter typed for you.")
    created_at: datetime
    expires_at: datetime


class InvitationPreviewOut(BaseModel):
    """What an invitation link offers (for the page that opens it)."""

    tenant_slug: str
    tenant_name: str
    role: str
    email: str
    name: str = Field(description="The name the inviter typed.")
    expires_at: datetime
    account: Literal["new", "existing"] = Field(
        description="`existing`: the address has a confirmed account — sign in with it, "
        "then accept. `new`: accept with a password to set."
    )

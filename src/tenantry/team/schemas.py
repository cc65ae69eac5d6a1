"""Request and response models for team management."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Role = Literal["owner", "admin", "staff", "client"]
MemberStatus = Literal["active", "removed"]


def _email(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or domain.startswith("."):
        raise ValueError("not an email address")
    return value.lower()


EmailStr = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]


class TeamMemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    status: MemberStatus
    joined_at: datetime


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    role: Role
    name: str = Field(default="", max_length=200, description="Used only for a new account.")


class InviteOut(BaseModel):
    member: TeamMemberOut
    temporary_password: str | None = Field(
        description="Set only when a new account was created; shown this once, never stored."
    )


class RoleChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role

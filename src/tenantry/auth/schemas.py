from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field


def _email(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or domain.startswith("."):
        raise ValueError("not an email address")
    return value.lower()


# Deliberately lenient (reserved test domains such as .test are fine): an address is
# proven by use, not by syntax. The one e-mail type of every body (sign-up, invitations,
# the contact form, the reply-to setting).
EmailStr = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]


class LoginIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(default=None, description="Slug of the tenant to sign in to.")


class RegisterIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=10, max_length=1024)
    name: str = Field(default="", max_length=200)
    tenant: str | None = Field(
        default=None, description="Tenant slug; optional on a tenant's own host."
    )


class SwitchIn(BaseModel):
    tenant: str = Field(min_length=1, max_length=63, description="Slug of the tenant.")


class MembershipOut(BaseModel):
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_name: str
    tenant_status: str
    role: str


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    is_superadmin: bool


class TenantOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    status: str


class SessionOut(BaseModel):
    user: UserOut
    active_tenant: TenantOut | None
    role: str | None
    memberships: list[MembershipOut]


class CurrentTenantOut(BaseModel):
    tenant: TenantOut
    role: str


class OkOut(BaseModel):
    ok: bool = True


Password = Annotated[str, Field(min_length=10, max_length=1024)]
Token = Annotated[str, Field(min_length=10, max_length=2048, description="From the e-mailed link.")]


class AcceptedOut(BaseModel):
    """The answer to every request that sends mail: the same whatever the address."""

    ok: bool = True
    message: str


class VerifyEmailIn(BaseModel):
    token: Token
    password: str = Field(
        min_length=1,
        max_length=1024,
        description="The password of the account (chosen at sign-up).",
    )


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class ResetRequestIn(BaseModel):
    email: EmailStr


class ResetConfirmIn(BaseModel):
    token: Token
    new_password: Password

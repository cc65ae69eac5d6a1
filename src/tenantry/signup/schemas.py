"""Sign-up bodies."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class SignupIn(BaseModel):
    business_name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=100, description="Becomes <slug>.<base-domain>.")
    email: str = Field(min_length=3, max_length=320, description="The owner's email.")
    name: str = Field(default="", max_length=200, description="The owner's name.")


class SignupAccepted(BaseModel):
    status: str = Field(description="`verification_sent`: follow the link in the email.")


class VerifyIn(BaseModel):
    token: str = Field(min_length=10, max_length=4000)
    password: str = Field(
        min_length=10,
        max_length=200,
        description="The new owner account's password; for an existing account, its "
        "current password.",
    )


class SignedUp(BaseModel):
    tenant_id: uuid.UUID
    slug: str
    name: str
    owner_email: str

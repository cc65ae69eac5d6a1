"""Request and response models for the public contact form."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _email(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or domain.startswith("."):
        raise ValueError("not an email address")
    return value.lower()


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
    email: Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
    message: Annotated[str, Field(min_length=1, max_length=5000), AfterValidator(_not_blank)]


class ContactReceivedOut(BaseModel):
    """The sender learns only that the message arrived."""

    id: uuid.UUID
    received_at: datetime


class ContactSubmissionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str
    message: str
    created_at: datetime

"""Request and response models for the public contact form."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from tenantry.auth.schemas import EmailStr
from tenantry.kit.schemas import Input, Output


class ContactIn(Input):
    """Text is stripped, so a blank name or message is refused like an empty one."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr
    message: Annotated[str, Field(min_length=1, max_length=5000)]


class ContactReceivedOut(BaseModel):
    """The sender learns only that the message arrived."""

    id: uuid.UUID
    received_at: datetime


class ContactSubmissionOut(Output):
    id: uuid.UUID
    name: str
    email: str
    message: str
    created_at: datetime

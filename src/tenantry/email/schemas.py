"""Email payloads."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tenantry.kit.schemas import Input, Output


class TestEmailIn(Input):
    to: str | None = Field(
        default=None,
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="A member of this tenant's team; default: you.",
    )


class SentEmailOut(Output):
    to: str
    mail_from: str
    subject: str
    body: str
    sent_at: datetime

"""Reminder payloads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from tenantry.kit.schemas import Input, Output


class ReminderIn(Input):
    """A reminder to the client of exactly one booking or service request."""

    booking_id: uuid.UUID | None = None
    service_request_id: uuid.UUID | None = None
    send_at: AwareDatetime = Field(description="When to send; must be in the future.")
    channel: Literal["email"] = Field(default="email", description="Only email is sent today.")
    note: str = Field(default="", max_length=2000, description="Added to the message.")

    @field_validator("send_at")
    @classmethod
    def in_future(cls, value: datetime) -> datetime:
        if value <= datetime.now(UTC):
            raise ValueError("send_at must be in the future")
        return value

    @model_validator(mode="after")
    def exactly_one_target(self) -> ReminderIn:
        if (self.booking_id is None) == (self.service_request_id is None):
            raise ValueError("give exactly one of booking_id and service_request_id")
        return self


class ReminderOut(Output):
    id: uuid.UUID
    booking_id: uuid.UUID | None
    service_request_id: uuid.UUID | None
    channel: str
    send_at: datetime
    status: Literal["pending", "sent", "failed", "cancelled"]
    sent_at: datetime | None
    attempts: int
    payload: dict[str, Any]
    created_at: datetime

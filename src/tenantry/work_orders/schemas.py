"""Work order payloads. Inputs forbid unknown fields (a stray ``tenant_id`` is a 422)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

WorkOrderStatus = Literal["open", "in_progress", "done", "cancelled"]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; refused here it is a 422, not a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


class WorkOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    service_request_id: uuid.UUID | None
    booking_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    title: str
    description: str
    status: WorkOrderStatus
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WorkOrderCreate(_In):
    """A work order, on its own or from a service request and/or a booking of this
    tenant. Without a title it takes the request's (or describes the booking); without
    an assignee it takes the request's or booking's."""

    title: Title | None = None
    description: Description = ""
    assignee_id: uuid.UUID | None = Field(
        default=None, description="User id of a staff, admin or owner member."
    )
    due_at: AwareDatetime | None = None
    service_request_id: uuid.UUID | None = None
    booking_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _titled(self) -> WorkOrderCreate:
        if self.title is None and self.service_request_id is None and self.booking_id is None:
            raise ValueError("give a title, or a service_request_id or booking_id to take it from")
        return self


class WorkOrderUpdate(_In):
    """Change any of title, description, assignee and due date; ``null`` clears the
    assignee or the due date."""

    title: Title | None = None
    description: Description | None = None
    assignee_id: uuid.UUID | None = None
    due_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _something(self) -> WorkOrderUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("title", "description"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class WorkOrderStatusChange(_In):
    status: WorkOrderStatus

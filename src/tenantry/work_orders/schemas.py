"""Work order payloads (inputs on the kit's ``Input``/``Patch``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from tenantry.kit.schemas import Description, Input, Output, Patch, Title

WorkOrderStatus = Literal["open", "in_progress", "done", "cancelled"]


class WorkOrderOut(Output):
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


class WorkOrderCreate(Input):
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


class WorkOrderUpdate(Patch):
    """Change any of title, description, assignee and due date; ``null`` clears the
    assignee or the due date."""

    nullable = frozenset({"assignee_id", "due_at"})

    title: Title | None = None
    description: Description | None = None
    assignee_id: uuid.UUID | None = None
    due_at: AwareDatetime | None = None


class WorkOrderStatusChange(Input):
    status: WorkOrderStatus

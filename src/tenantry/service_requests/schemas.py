"""Service request payloads (inputs on the kit's ``Input``/``Patch``: a ``tenant_id``,
or any other stray key, in a body is a 422 rather than silently ignored)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from tenantry.bookings.schemas import BookingSpan, Notes
from tenantry.kit.schemas import Description, Input, Output, Patch, Title

RequestStatus = Literal["submitted", "triaged", "assigned", "in_progress", "completed", "cancelled"]
RequestPriority = Literal["low", "normal", "high", "urgent"]


class ServiceRequestOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    assignee_id: uuid.UUID | None
    service_id: uuid.UUID
    title: str
    description: str
    status: RequestStatus
    priority: RequestPriority
    created_at: datetime
    updated_at: datetime


class ServiceRequestCreate(Input):
    """Staff file a request on behalf of one of the tenant's clients."""

    client_id: uuid.UUID = Field(description="User id of a client member of this tenant.")
    service_id: uuid.UUID
    title: Title
    description: Description = ""
    priority: RequestPriority = "normal"


class PortalServiceRequestCreate(Input):
    """A client files a request for one of the tenant's active services."""

    service_id: uuid.UUID
    title: Title
    description: Description = ""


class ServiceRequestTriage(Patch):
    """Change any of priority, title and description (at least one; only those sent)."""

    priority: RequestPriority | None = None
    title: Title | None = None
    description: Description | None = None


class ServiceRequestAssign(Input):
    assignee_id: uuid.UUID = Field(description="User id of a staff, admin or owner member.")


class ServiceRequestStatusChange(Input):
    status: RequestStatus


class ConvertToBooking(BookingSpan):
    """Book the request. ``ends_at`` defaults to ``starts_at`` plus the service's
    duration; the assignee defaults to the request's."""

    assignee_id: uuid.UUID | None = None
    notes: Notes = ""

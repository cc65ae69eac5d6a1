"""Booking payloads (inputs on the kit's ``Input``: a stray ``tenant_id`` is a 422);
times must carry a time zone."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tenantry.kit.schemas import Input, Output

BookingStatus = Literal["pending", "confirmed", "cancelled", "completed"]
Notes = Annotated[str, Field(max_length=10_000)]


class BookingSpan(Input):
    """When a booking is to be: its start, and its end after that (a request's
    conversion to a booking takes the same)."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = Field(
        default=None, description="Defaults to starts_at plus the service's duration."
    )

    @model_validator(mode="after")
    def _order(self) -> BookingSpan:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class BookingOut(Output):
    id: uuid.UUID
    client_id: uuid.UUID
    assignee_id: uuid.UUID | None
    service_id: uuid.UUID
    service_request_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    status: BookingStatus
    notes: str
    created_at: datetime
    updated_at: datetime


class BookingCreate(BookingSpan):
    client_id: uuid.UUID = Field(description="User id of a client member of this tenant.")
    service_id: uuid.UUID = Field(description="An active service of this tenant.")
    assignee_id: uuid.UUID | None = Field(
        default=None, description="User id of a staff, admin or owner member."
    )
    status: Literal["pending", "confirmed"] = "pending"
    notes: Notes = ""


class BookingReschedule(BookingSpan):
    pass


class BookingCancel(Input):
    reason: str = Field(min_length=1, max_length=500)


class PortalBookingCreate(Input):
    service_id: uuid.UUID = Field(description="An active service of this tenant.")
    starts_at: AwareDatetime
    notes: Notes = ""


class PortalBookingCancel(Input):
    reason: str = Field(default="", max_length=500)


class BookingStats(BaseModel):
    by_status: dict[BookingStatus, int]
    upcoming_7_days: int = Field(description="Pending or confirmed, starting in the next 7 days.")
    estimated_revenue_cents: int = Field(
        description="Sum of current service prices over bookings that are not cancelled."
    )
    completed_revenue_cents: int = Field(
        description="Sum of current service prices over completed bookings."
    )


class PendingCount(BaseModel):
    pending: int


class CalendarEntry(Output):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: BookingStatus
    service_id: uuid.UUID
    service_name: str
    client_id: uuid.UUID
    assignee_id: uuid.UUID | None
    service_request_id: uuid.UUID | None


class OpenSlot(BaseModel):
    starts_at: datetime = Field(description="In the tenant's time zone (its UTC offset).")
    ends_at: datetime


class Availability(BaseModel):
    service_id: uuid.UUID
    timezone: str = Field(description="The tenant's IANA time zone; days are its days.")
    duration_minutes: int
    slot_minutes: int
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    slots: list[OpenSlot] = Field(description="Every start that would be accepted, in order.")

    model_config = ConfigDict(populate_by_name=True)

"""Booking, communication and threshold settings: one row per tenant each.

A PUT replaces the whole settings object: a field left out takes its default. The
defaults here match the table's server defaults, so a tenant without a row reads
exactly what it would get from an empty insert.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from tenantry.auth.schemas import EmailStr
from tenantry.kit.schemas import Input

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not a known IANA time zone") from exc
    return value


def _intervals(value: list[list[str]]) -> list[list[str]]:
    """Each interval is "HH:MM"-"HH:MM", start before end, sorted, not overlapping."""
    for start, end in value:
        if not (_TIME.match(start) and _TIME.match(end)):
            raise ValueError("times are HH:MM (24-hour)")
        if start >= end:
            raise ValueError("an interval must end after it starts")
    ordered = sorted(value)
    for (_, end), (start, _) in itertools.pairwise(ordered):
        if start < end:
            raise ValueError("intervals of a day must not overlap")
    return ordered


# A pair as a two-item list, not tuple[str, str]: the tuple's JSON Schema form was
# not valid OpenAPI 3.1 (found by the schemathesis run). Same wire format.
Interval = Annotated[list[str], Field(min_length=2, max_length=2)]
Intervals = Annotated[list[Interval], Field(max_length=6), AfterValidator(_intervals)]
TemplateKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class BookingSettingsIn(Input):
    timezone: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_timezone)] = "UTC"
    currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. GBP."
    )
    slot_minutes: int = Field(default=30, ge=5, le=8 * 60)
    min_notice_minutes: int = Field(default=60, ge=0, le=60 * 24 * 60)
    max_advance_days: int = Field(default=90, ge=1, le=730)
    buffer_minutes: int = Field(default=0, ge=0, le=240)
    allow_client_cancellation: bool = True
    cancellation_notice_hours: int = Field(default=24, ge=0, le=24 * 60)
    business_hours: dict[Day, Intervals] = Field(
        default_factory=dict,
        description='Opening hours per day, e.g. {"mon": [["09:00", "17:00"]]}.',
    )


class BookingSettingsOut(BookingSettingsIn):
    model_config = ConfigDict(from_attributes=True, frozen=True, extra="ignore")

    updated_at: datetime | None = Field(default=None, description="None: defaults, never saved.")


class CommunicationSettingsIn(Input):
    sender_name: str = Field(default="", max_length=200)
    reply_to: EmailStr | None = None
    email_enabled: bool = True
    sms_enabled: bool = False
    reminder_lead_minutes: int = Field(default=1440, ge=0, le=60 * 24 * 14)
    templates: dict[TemplateKey, Annotated[str, Field(max_length=10_000)]] = Field(
        default_factory=dict, max_length=50, description="Message templates by name."
    )


class CommunicationSettingsOut(CommunicationSettingsIn):
    model_config = ConfigDict(from_attributes=True, frozen=True, extra="ignore")

    updated_at: datetime | None = None


class ThresholdsIn(Input):
    expense_approval_cents: int = Field(
        default=0, ge=0, le=10**12, description="Expenses above this need approval."
    )
    invoice_overdue_days: int = Field(default=30, ge=0, le=365)
    request_response_hours: int = Field(default=24, ge=0, le=24 * 60)


class ThresholdsOut(ThresholdsIn):
    model_config = ConfigDict(from_attributes=True, frozen=True, extra="ignore")

    updated_at: datetime | None = None

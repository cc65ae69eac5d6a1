"""The payment provider's event (only the fields Tenantry reads) and our answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WebhookStatus = Literal["processed", "recorded", "held", "duplicate", "ignored"]


class EventObject(BaseModel):
    model_config = ConfigDict(extra="allow")

    metadata: dict[str, Any] = Field(default_factory=dict)
    amount: int | None = None
    currency: str | None = None


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: EventObject


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=100)
    data: EventData


class WebhookResult(BaseModel):
    """``processed``: stored and applied (or already applied); ``recorded``: stored but
    the invoice was not changed (not ``sent``, or the amount or currency differs);
    ``held``: stored, to be applied when the tenant is active again (it is suspended);
    ``duplicate``: this event id was seen before, nothing changed; ``ignored``: not for
    us (other event types, unknown invoices) — answered 200 so the provider stops
    retrying."""

    status: WebhookStatus

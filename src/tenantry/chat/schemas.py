"""Chat payloads."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from tenantry.kit.schemas import Input, Output


class ChatMessageIn(Input):
    body: str = Field(min_length=1, max_length=4000, description="The message text (1-4000).")


class ChatMessageOut(Output):
    id: uuid.UUID
    service_request_id: uuid.UUID | None = Field(
        description="The service request the message is about; null in the team chat."
    )
    sender_id: uuid.UUID
    body: str
    created_at: datetime

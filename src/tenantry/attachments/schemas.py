"""Attachment payloads. Uploads are multipart (parsed in ``storage``), not JSON."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tenantry.kit.schemas import Input, Output


class AttachmentOut(Output):
    id: uuid.UUID
    service_request_id: uuid.UUID | None
    expense_id: uuid.UUID | None
    uploaded_by_id: uuid.UUID
    filename: str = Field(description="The original file name, as uploaded (sanitised).")
    content_type: str
    size_bytes: int
    scan_status: Literal["pending", "clean", "infected"] = Field(
        description="Downloads are served only once the antivirus scanner reported `clean`."
    )
    created_at: datetime


class ScanCallbackIn(Input):
    attachment_id: uuid.UUID
    result: Literal["clean", "infected"]


class ScanCallbackOut(BaseModel):
    attachment_id: uuid.UUID
    scan_status: Literal["pending", "clean", "infected"]

"""Response models for the users directory."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

Role = Literal["owner", "admin", "staff", "client"]


class TenantUserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    member_since: datetime

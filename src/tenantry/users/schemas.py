"""Response models for the users directory."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from tenantry.kit.schemas import Output

Role = Literal["owner", "admin", "staff", "client"]


class TenantUserOut(Output):
    """One entry of the directory, validated from a ``directory()`` row."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    member_since: datetime

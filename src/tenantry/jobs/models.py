"""Jobs held while their tenant is not active (suspended or archived)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, json_object, uuid_pk


class HeldJob(TenantOwned):
    """A job the worker met while its tenant was suspended: its task and arguments
    (without the tenant, which is the row's), deferred again on reactivation."""

    __tablename__ = "held_jobs"
    __table_args__ = (Index("ix_held_jobs_tenant_held", "tenant_id", "held_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    task_name: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = json_object()
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    held_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

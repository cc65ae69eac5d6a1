"""Queries on the per-tenant settings singletons. The guard and RLS scope them."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds

Row = TypeVar("Row", BookingSettings, CommunicationSettings, Thresholds)


def get(session: Session, model: type[Row]) -> Row | None:
    """The tenant's row (a unique on tenant_id makes it at most one)."""
    return session.scalar(select(model))

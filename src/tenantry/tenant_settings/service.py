"""Read (cached per tenant) and upsert the settings singletons. Flush only.

Reads go through ``tenant_cache``: its key carries the tenant id from the context,
so one tenant's value can never answer another. A write invalidates the tenant's
entry at once *and* again after the commit: between this flush and the request's
commit a concurrent read could otherwise put the old value back for a whole TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.kit.cache import tenant_cache
from tenantry.kit.schemas import Input
from tenantry.tenant_settings import repository
from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds
from tenantry.tenant_settings.schemas import (
    BookingSettingsOut,
    CommunicationSettingsOut,
    ThresholdsOut,
)

Out = TypeVar("Out", bound=BaseModel)


@dataclass(frozen=True)
class Kind(Generic[Out]):
    cache_key: str
    model: Any  # the ORM class (one of the three singletons)
    out: type[Out]


BOOKING = Kind("tenant_settings.booking", BookingSettings, BookingSettingsOut)
COMMUNICATION = Kind(
    "tenant_settings.communication", CommunicationSettings, CommunicationSettingsOut
)
THRESHOLDS = Kind("tenant_settings.thresholds", Thresholds, ThresholdsOut)


def read(session: Session, *, kind: Kind[Out]) -> Out:
    """The tenant's settings, or the defaults when it never saved any."""

    def load() -> Out:
        row = repository.get(session, kind.model)
        return kind.out() if row is None else kind.out.model_validate(row)

    return tenant_cache.get_or_load(kind.cache_key, load)


def write(
    session: Session,
    *,
    kind: Kind[Out],
    data: Input,
) -> Out:
    """Insert or replace the tenant's one row (the guard sets ``tenant_id``)."""
    values = data.model_dump()
    row = repository.get(session, kind.model)
    if row is None:
        try:
            with session.begin_nested():
                row = kind.model(**values)
                session.add(row)
                session.flush()
        except IntegrityError:
            # Another request inserted the row first (unique on tenant_id): update it.
            row = repository.get(session, kind.model)
            if row is None:
                raise
    for field, value in values.items():
        setattr(row, field, value)
    session.flush()
    session.refresh(row)
    _invalidate(session, kind.cache_key)
    return kind.out.model_validate(row)


def _invalidate(session: Session, key: str) -> None:
    tenant_cache.invalidate_on_commit(session, key)

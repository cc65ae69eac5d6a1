"""Idempotency key rows, looked up and written in the caller's tenant context only."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from tenantry.idempotency.models import IdempotencyKey


def try_insert(
    session: Session, *, key: str, method: str, path: str, request_hash: str
) -> uuid.UUID | None:
    """Insert an in-progress row; ``None`` when the tenant already has this key.

    ``ON CONFLICT DO NOTHING`` waits for a concurrent insert of the same key to finish,
    so two simultaneous first requests cannot both claim it.
    """
    stmt = (
        insert(IdempotencyKey)
        .values(key=key, method=method, path=path, request_hash=request_hash)
        .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
        .returning(IdempotencyKey.id)
    )
    return session.scalar(stmt)


def get_for_update(session: Session, *, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key).with_for_update())


def store_response(
    session: Session, *, row_id: uuid.UUID, status: int, body: dict[str, Any]
) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id, IdempotencyKey.response_status.is_(None))
        .values(response_status=status, response_body=body)
    )


def delete_row(session: Session, *, row_id: uuid.UUID) -> None:
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))

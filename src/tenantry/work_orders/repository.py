"""Queries for work orders. No tenant filter is written here: the ORM guard adds it
and RLS enforces it."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from tenantry.work_orders.models import WorkOrder


def get(session: Session, *, work_order_id: uuid.UUID, lock: bool = False) -> WorkOrder | None:
    stmt = select(WorkOrder).where(WorkOrder.id == work_order_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_work_orders(
    session: Session,
    *,
    status: str | None,
    assignee_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[WorkOrder], int]:
    """Soonest due first (undated last), then newest."""
    conditions: list[ColumnElement[bool]] = []
    if status is not None:
        conditions.append(WorkOrder.status == status)
    if assignee_id is not None:
        conditions.append(WorkOrder.assignee_id == assignee_id)
    total = session.scalar(select(func.count()).select_from(WorkOrder).where(*conditions))
    rows = session.scalars(
        select(WorkOrder)
        .where(*conditions)
        .order_by(WorkOrder.due_at.asc().nulls_last(), WorkOrder.created_at.desc(), WorkOrder.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total or 0


def add(session: Session, work_order: WorkOrder) -> None:
    session.add(work_order)

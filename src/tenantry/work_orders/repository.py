"""Work orders: the kit's repository and the list order particular to work orders."""

from __future__ import annotations

import uuid

from sqlalchemy import Select

from tenantry.kit.repository import Repository, built_once, where_given
from tenantry.work_orders.models import WorkOrder

work_orders = Repository(WorkOrder, not_found="No such work order.")


@built_once
def soonest_due_first(*, status: str | None, assignee_id: uuid.UUID | None) -> Select[WorkOrder]:
    """Soonest due first (undated last), then newest."""
    stmt = work_orders.select().order_by(
        WorkOrder.due_at.asc().nulls_last(), WorkOrder.created_at.desc(), WorkOrder.id
    )
    return where_given(stmt, (WorkOrder.status, status), (WorkOrder.assignee_id, assignee_id))

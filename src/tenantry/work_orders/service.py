"""Work order rules: what a work order may point at, who may hold it, and its status
machine. Flush only; the request commits once."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tenantry.bookings.repository import bookings
from tenantry.kit.errors import (
    InvalidTransition,
    RecordClosed,
    UnknownAssignee,
    UnknownReference,
)
from tenantry.kit.members import STAFF_ROLES, find_member
from tenantry.kit.pagination import Page, PageParams
from tenantry.service_requests.repository import requests
from tenantry.work_orders.errors import BookingOfAnotherRequest
from tenantry.work_orders.models import WorkOrder
from tenantry.work_orders.repository import soonest_due_first, work_orders
from tenantry.work_orders.schemas import WorkOrderCreate, WorkOrderUpdate

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset({"done", "open", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}


def list_work_orders(
    session: Session, *, status: str | None, assignee_id: uuid.UUID | None, page: PageParams
) -> Page[WorkOrder]:
    stmt = soonest_due_first(status=status, assignee_id=assignee_id)
    return work_orders.page(session, stmt, page)


def _check_assignee(session: Session, assignee_id: uuid.UUID) -> None:
    if find_member(session, user_id=assignee_id, roles=STAFF_ROLES) is None:
        raise UnknownAssignee()


def create(session: Session, *, data: WorkOrderCreate) -> WorkOrder:
    """Missing title and assignee are taken from the request, else the booking."""
    fallback_title: str | None = None
    fallback_assignee: uuid.UUID | None = None
    booking = None
    if data.booking_id is not None:
        booking = bookings.referenced(session, data.booking_id)
        fallback_title = f"Booking on {booking.starts_at:%Y-%m-%d %H:%M} UTC"
        fallback_assignee = booking.assignee_id
    if data.service_request_id is not None:
        request = requests.referenced(session, data.service_request_id)
        if booking is not None and booking.service_request_id not in (None, request.id):
            raise BookingOfAnotherRequest()
        fallback_title = request.title
        fallback_assignee = request.assignee_id or fallback_assignee
    if data.assignee_id is not None:
        _check_assignee(session, data.assignee_id)
    title = data.title or fallback_title
    if title is None:  # the schema already demands one of them; keep the rule here too
        raise UnknownReference("Give a title.")
    work_order = WorkOrder(
        title=title,
        description=data.description,
        assignee_id=data.assignee_id if data.assignee_id is not None else fallback_assignee,
        due_at=data.due_at,
        service_request_id=data.service_request_id,
        booking_id=data.booking_id,
        status="open",
    )
    return work_orders.add(session, work_order)


def update(session: Session, *, work_order_id: uuid.UUID, data: WorkOrderUpdate) -> WorkOrder:
    """Apply the fields the caller sent (title, description, assignee_id, due_at)."""
    work_order = work_orders.for_update(session, work_order_id)
    if work_order.status not in ("open", "in_progress"):
        raise RecordClosed("This work order is done or cancelled.")
    if data.assignee_id is not None:
        _check_assignee(session, data.assignee_id)
    return work_orders.update(session, work_order, data.changes())


def set_status(session: Session, *, work_order_id: uuid.UUID, to: str) -> WorkOrder:
    work_order = work_orders.for_update(session, work_order_id)
    if to not in TRANSITIONS[work_order.status]:
        raise InvalidTransition(f"A {work_order.status} work order cannot become {to}.")
    work_order.status = to
    work_orders.flush(session)
    return work_order

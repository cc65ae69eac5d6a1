"""Work order rules: what a work order may point at, who may hold it, and its status
machine. Flush only; the request commits once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tenantry.bookings import repository as bookings_repo
from tenantry.errors import Conflict, NotFound
from tenantry.kit.errors import (
    InvalidTransition,
    UnknownAssignee,
    UnknownBooking,
    UnknownReference,
    UnknownServiceRequest,
)
from tenantry.kit.members import STAFF_ROLES, find_member
from tenantry.kit.repository import flush
from tenantry.service_requests import repository as requests_repo
from tenantry.work_orders import repository as repo
from tenantry.work_orders.models import WorkOrder

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset({"done", "open", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}


class BookingOfAnotherRequest(UnknownReference):
    code = "booking_not_of_request"
    message = "The booking belongs to another service request."


class WorkOrderClosed(Conflict):
    code = "work_order_closed"
    message = "This work order is done or cancelled."


def get(session: Session, *, work_order_id: uuid.UUID) -> WorkOrder:
    work_order = repo.get(session, work_order_id=work_order_id)
    if work_order is None:
        raise NotFound()
    return work_order


def _locked(session: Session, *, work_order_id: uuid.UUID) -> WorkOrder:
    work_order = repo.get(session, work_order_id=work_order_id, lock=True)
    if work_order is None:
        raise NotFound()
    return work_order


def list_work_orders(
    session: Session, *, status: str | None, assignee_id: uuid.UUID | None, limit: int, offset: int
) -> tuple[list[WorkOrder], int]:
    return repo.list_work_orders(
        session, status=status, assignee_id=assignee_id, limit=limit, offset=offset
    )


def _check_assignee(session: Session, assignee_id: uuid.UUID) -> None:
    if find_member(session, user_id=assignee_id, roles=STAFF_ROLES) is None:
        raise UnknownAssignee()


def create(
    session: Session,
    *,
    title: str | None,
    description: str = "",
    assignee_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
    service_request_id: uuid.UUID | None = None,
    booking_id: uuid.UUID | None = None,
) -> WorkOrder:
    """Missing title and assignee are taken from the request, else the booking."""
    fallback_title: str | None = None
    fallback_assignee: uuid.UUID | None = None
    booking = None
    if booking_id is not None:
        booking = bookings_repo.get(session, booking_id=booking_id)
        if booking is None:
            raise UnknownBooking()
        fallback_title = f"Booking on {booking.starts_at:%Y-%m-%d %H:%M} UTC"
        fallback_assignee = booking.assignee_id
    if service_request_id is not None:
        request = requests_repo.get(session, request_id=service_request_id)
        if request is None:
            raise UnknownServiceRequest()
        if booking is not None and booking.service_request_id not in (None, request.id):
            raise BookingOfAnotherRequest()
        fallback_title = request.title
        fallback_assignee = request.assignee_id or fallback_assignee
    if assignee_id is not None:
        _check_assignee(session, assignee_id)
    final_title = title or fallback_title
    if final_title is None:  # the schema already demands one of them; keep the rule here too
        raise UnknownReference("Give a title.")
    work_order = WorkOrder(
        title=final_title,
        description=description,
        assignee_id=assignee_id if assignee_id is not None else fallback_assignee,
        due_at=due_at,
        service_request_id=service_request_id,
        booking_id=booking_id,
        status="open",
    )
    repo.add(session, work_order)
    flush(session)
    return work_order


def update(session: Session, *, work_order_id: uuid.UUID, changes: dict[str, Any]) -> WorkOrder:
    """Apply the fields the caller sent (title, description, assignee_id, due_at)."""
    work_order = _locked(session, work_order_id=work_order_id)
    if work_order.status not in ("open", "in_progress"):
        raise WorkOrderClosed()
    if changes.get("assignee_id") is not None:
        _check_assignee(session, changes["assignee_id"])
    for field in ("title", "description", "assignee_id", "due_at"):
        if field in changes:
            setattr(work_order, field, changes[field])
    flush(session)
    return work_order


def set_status(session: Session, *, work_order_id: uuid.UUID, to: str) -> WorkOrder:
    work_order = _locked(session, work_order_id=work_order_id)
    if to not in TRANSITIONS[work_order.status]:
        raise InvalidTransition(f"A {work_order.status} work order cannot become {to}.")
    work_order.status = to
    flush(session)
    return work_order

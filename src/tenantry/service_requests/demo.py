"""Demo service requests: one in every status, from the demo client, for the tenant's
active services. Runs after ``tenantry.services.demo``; with no services it adds
nothing. Idempotent: a tenant that already has requests is left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service

if TYPE_CHECKING:
    from tenantry.ops.demo import DemoTenant

# (status, priority, assignee role or None, title, description)
REQUESTS: tuple[tuple[str, str, str | None, str, str], ...] = (
    (
        "submitted",
        "high",
        None,
        "Water marks spreading on the hallway ceiling",
        "Noticed after the weekend's rain. About a metre across and still damp.",
    ),
    (
        "triaged",
        "normal",
        None,
        "Quote for the whole ground floor",
        "Moving out at the end of the month; need the place ready for the inventory check.",
    ),
    (
        "assigned",
        "normal",
        "staff",
        "Regular visit before the family arrives",
        "Guest room and both bathrooms please. Key is with the neighbour at number 12.",
    ),
    (
        "in_progress",
        "urgent",
        "consultant",
        "Follow-up: stains came back in the lounge",
        "Second visit after last week's job; the patch by the window is showing again.",
    ),
    (
        "completed",
        "low",
        "staff",
        "Spring visit",
        "Same as last year. Thank you for the flexible timing!",
    ),
    (
        "cancelled",
        "normal",
        None,
        "Extra visit on Saturday",
        "Cancelled: managed to sort it ourselves.",
    ),
)


def user(demo: DemoTenant, role: str) -> uuid.UUID:
    """The demo member's user id for ``role`` (owner, admin, staff, client, consultant)."""
    value = demo.users[role]
    if not isinstance(value, uuid.UUID):
        raise TypeError(f"demo user {role!r} has no id")
    return value


def fill(db: Database, demo: DemoTenant) -> None:
    ctx = TenantContext(tenant_id=demo.ref.id, user_id=user(demo, "owner"), role="owner")
    now = datetime.now(UTC)
    with tenant_context(ctx), db.session() as s:
        if s.scalar(select(ServiceRequest.id).limit(1)) is not None:
            return
        services = list(
            s.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name))
        )
        if not services:
            return
        for index, (status, priority, assignee, title, description) in enumerate(REQUESTS):
            s.add(
                ServiceRequest(
                    client_id=user(demo, "client"),
                    service_id=services[index % len(services)].id,
                    assignee_id=user(demo, assignee) if assignee else None,
                    status=status,
                    priority=priority,
                    title=title,
                    description=description,
                    # Older requests are further along: spread over the last fortnight.
                    created_at=now - timedelta(days=2 * (len(REQUESTS) - index), hours=index),
                )
            )

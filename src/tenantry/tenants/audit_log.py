"""The platform audit log: lifecycle events and every cross-tenant operator access.

Append-only in the database (see migration ``20261130_0007``): the app role may only
insert and read, and a trigger refuses UPDATE/DELETE/TRUNCATE for every role. Each
entry is also written to the structured log (``tenantry.lifecycle``), so log
pipelines see the same events.
"""

from __future__ import annotations

import getpass
import os
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.errors import TenantryError
from tenantry.tenants.models import AuditEntry

_log = structlog.get_logger("tenantry.lifecycle")


class ReasonRequired(TenantryError):
    code = "reason_required"
    message = "State why (a reason of at least 8 characters): every operator access is audited."


MIN_REASON = 8


def require_reason(reason: str | None) -> str:
    """A stated reason, trimmed; refuses none, blanks and one-word shrugs."""
    cleaned = " ".join((reason or "").split())
    if len(cleaned) < MIN_REASON:
        raise ReasonRequired()
    return cleaned[:2000]


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator's account (API) or the person at the command line."""

    label: str
    user_id: uuid.UUID | None = None
    request_id: str | None = None

    @classmethod
    def command_line(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            who = str(os.getuid())
        return cls(label=f"cli:{who}")


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    reason: str,
    tenant_id: uuid.UUID | None = None,
    slug: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one entry to ``session`` (the caller's transaction) and log it."""
    session.add(
        AuditEntry(
            actor=actor.label,
            actor_user_id=actor.user_id,
            action=action,
            target_tenant_id=tenant_id,
            target_slug=slug,
            reason=reason,
            details=details or {},
            request_id=actor.request_id,
        )
    )
    _log.info(
        "audit_event",
        action=action,
        actor=actor.label,
        actor_user_id=str(actor.user_id) if actor.user_id else None,
        target_tenant_id=str(tenant_id) if tenant_id else None,
        target_slug=slug,
        reason=reason,
        request_id=actor.request_id,
    )


def entries(
    session: Session,
    *,
    tenant_id: uuid.UUID | None = None,
    slug: str | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if tenant_id is not None:
        query = query.where(AuditEntry.target_tenant_id == tenant_id)
    if slug is not None:
        query = query.where(AuditEntry.target_slug == slug)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))

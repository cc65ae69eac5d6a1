"""Demo invitations: one open invitation per tenant, so the team pages have one to show.

Written straight to the table (no message is queued: nobody reads the demo's mail).
To see the whole flow, invite an address yourself (``POST /api/admin/invitations``) and
run a local SMTP server on ``TENANTRY_SMTP_PORT``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from tenantry.auth.tokens import LIFETIMES
from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.team.models import Invitation

if TYPE_CHECKING:
    from tenantry.kit.demo import DemoTenant


def fill(db: Database, demo: DemoTenant) -> None:
    owner = demo.user("owner")
    ctx = TenantContext(tenant_id=demo.ref.id, user_id=owner, role="owner")
    with tenant_context(ctx), db.session() as s:
        if s.scalar(select(Invitation.id).limit(1)) is not None:
            return  # the tenant has invitations already: leave them alone
        s.add(
            Invitation(
                email=f"new.hire@{demo.ref.slug}.test",
                role="staff",
                name="New Hire",
                invited_by_id=owner,
                expires_at=datetime.now(UTC) + LIFETIMES["invitation"],
            )
        )

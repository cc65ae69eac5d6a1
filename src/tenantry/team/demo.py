"""Demo invitations: one open invitation per tenant, so the team pages have one to show.

Written straight to the table (no message is queued: nobody reads the demo's mail).
To see the whole flow, invite an address yourself (``POST /api/admin/invitations``) and
run a local SMTP server on ``TENANTRY_SMTP_PORT``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from tenantry.auth.tokens import LIFETIMES
from tenantry.db.engine import Database
from tenantry.team.models import Invitation

if TYPE_CHECKING:
    from tenantry.kit.demo import DemoTenant


def fill(db: Database, demo: DemoTenant) -> None:
    with demo.session(db) as s:
        if demo.has_rows(s, Invitation):
            return  # the tenant has invitations already: leave them alone
        s.add(
            Invitation(
                email=f"new.hire@{demo.ref.slug}.test",
                role="staff",
                name="New Hire",
                invited_by_id=demo.user("owner"),
                expires_at=datetime.now(UTC) + LIFETIMES["invitation"],
            )
        )

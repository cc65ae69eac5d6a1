"""Demo invitations: one open invitation per tenant, so the team pages have one to show.

Written straight to the table (no message is queued: nobody reads the demo's mail).
To see the whole flow, invite an address yourself (``POST /api/admin/invitations``) and
run a local SMTP server on ``TENANTRY_SMTP_PORT``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tenantry.auth.tokens import LIFETIMES
from tenantry.kit.demo import DemoTenant, fills
from tenantry.team.models import Invitation


@fills(Invitation)
def fill(s: Session, demo: DemoTenant) -> None:
    s.add(
        Invitation(
            email=f"new.hire@{demo.ref.slug}.test",
            role="staff",
            name="New Hire",
            invited_by_id=demo.user("owner"),
            expires_at=datetime.now(UTC) + LIFETIMES["invitation"],
        )
    )

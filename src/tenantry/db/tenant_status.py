"""A tenant's status, read where no request carries it (the job worker, the webhook)."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tenantry.db.engine import Database

ACTIVE = "active"


def tenant_status(db: Database, tenant_id: uuid.UUID) -> str | None:
    """``active``, ``suspended``, ``archived``, or None when no such tenant.

    ``tenants`` is a global table the app role reads (the request dependency does so on
    every request), so no system scope is needed."""
    with db.connect() as conn:
        status = conn.execute(
            text("select status from tenants where id = :id"), {"id": tenant_id}
        ).scalar()
    return None if status is None else str(status)

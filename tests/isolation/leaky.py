"""A deliberately leaky app: the real app plus routes that read and write past every wall.

Used to prove the engine (and ``tenantry probe``) can see a leak at all.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI
from sqlalchemy import select, update

from tenantry.app import create_app
from tenantry.auth.dependencies import CurrentTenant, DatabaseDep
from tenantry.auth.models import Membership
from tenantry.bookings.models import Booking
from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.errors import Forbidden, NotFound
from tenantry.routing import tenant_router
from tenantry.services.models import Service
from tenantry.settings import Settings
from tests.ports import uvicorn_thread

LEAKY_READ = "GET /api/admin/leaky/memberships"
LEAKY_WRITE = "POST /api/admin/leaky/touch"
LEAKY_ORACLE = "GET /api/admin/leaky/bookings/{booking_id}"


def leaky_router() -> APIRouter:
    router = tenant_router(prefix="/api/admin/leaky", tags=["leaky (test only)"])

    @router.get("/memberships")
    def every_membership(ctx: CurrentTenant, db: DatabaseDep) -> list[dict[str, str]]:
        """Deliberately leaky: every tenant's memberships, read in a system scope."""
        with db.system_session(reason="test: deliberately leaky read") as s:
            rows = s.execute(select(Membership.tenant_id, Membership.user_id)).all()
        return [{"tenant_id": str(t), "user_id": str(u)} for t, u in rows]

    @router.post("/touch")
    def touch_every_service(ctx: CurrentTenant, db: DatabaseDep) -> dict[str, int]:
        """Deliberately leaky: changes the services of other tenants — only the attack
        worlds' (slugs ``iso…``), never rows another test reads."""
        with db.system_session(reason="test: deliberately leaky write") as s:
            worlds = select(Tenant.id).where(Tenant.slug.like("iso%"))
            result = s.execute(
                update(Service)
                .where(Service.tenant_id.in_(worlds))
                .values(description=Service.description + ".")
            )
        return {"touched": int(getattr(result, "rowcount", 0))}

    @router.get("/bookings/{booking_id}")
    def booking_oracle(
        booking_id: uuid.UUID, ctx: CurrentTenant, db: DatabaseDep
    ) -> dict[str, str]:
        """Deliberately leaky: 403 for another tenant's booking, 404 for none — an oracle."""
        with db.system_session(reason="test: deliberately leaky lookup") as s:
            owner = s.scalar(select(Booking.tenant_id).where(Booking.id == booking_id))
        if owner is None:
            raise NotFound()
        if owner != ctx.tenant_id:
            raise Forbidden()
        return {"id": str(booking_id)}

    return router


def leaky_app(settings: Settings, db: Database) -> FastAPI:
    app = create_app(settings, db)
    app.include_router(leaky_router())
    return app


# Served on a socket bound by the test (tests/ports.py): no port race.
serve_in_thread = uvicorn_thread

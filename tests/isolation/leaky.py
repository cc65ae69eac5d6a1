"""A deliberately leaky app: the real app plus routes that read and write past every wall.

Used to prove the engine (and ``tenantry probe``) can see a leak at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import uvicorn
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


def free_port() -> int:
    """A port free a moment ago (racy: prefer binding port 0 and keeping the socket, as
    ``serve_in_thread`` does); kept for tests that need a port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; yield its URL.
    The socket is bound here and handed to uvicorn: the port is never free for a moment
    in which another process could take it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="leaky-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

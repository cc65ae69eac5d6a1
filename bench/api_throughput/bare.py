"""The bare endpoint: the least code that serves the same rows under the same RLS policy.

Starlette and a psycopg async connection pool as the app role, no authentication, no
ORM: every request is ``BEGIN; select set_config(tenant); <the app's statements>;
COMMIT`` — four round trips for a single-row read. The tenant comes from the path (it
is what the bench measures against, not something to deploy).

The statements are the ones Tenantry runs for the same endpoint (read: one booking by
id; list: count + a page of 20 by start time; write: the client's membership, the
service, then the insert), so the ratio measures the stack around them, not the SQL.

    BENCH_BARE_DSN=postgresql://app:pw@/db?host=/sock \
        uvicorn --factory bench.api_throughput.bare:app_from_env
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = (
    "id, client_id, assignee_id, service_id, service_request_id, starts_at, ends_at,"
    " status, notes, created_at"
)
PIN = "select set_config('app.current_tenant_id', %s, true)"


def _default(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, default=_default), status_code=status, media_type="application/json"
    )


def _pool(request: Request) -> AsyncConnectionPool[AsyncConnection[dict[str, Any]]]:
    pool: AsyncConnectionPool[AsyncConnection[dict[str, Any]]] = request.app.state.pool
    return pool


async def read_one(request: Request) -> Response:
    tenant = str(uuid.UUID(request.path_params["tenant"]))
    booking = uuid.UUID(request.path_params["booking"])
    async with _pool(request).connection() as conn, conn.transaction():
        await conn.execute(PIN, (tenant,))
        cur = await conn.execute(f"select {COLUMNS} from bookings where id = %s", (booking,))
        row = await cur.fetchone()
    if row is None:
        return _json({"error": {"code": "not_found"}}, 404)
    return _json(row)


async def list_page(request: Request) -> Response:
    tenant = str(uuid.UUID(request.path_params["tenant"]))
    limit = min(200, int(request.query_params.get("limit", "20")))
    offset = int(request.query_params.get("offset", "0"))
    async with _pool(request).connection() as conn, conn.transaction():
        await conn.execute(PIN, (tenant,))
        cur = await conn.execute("select count(*) as n from bookings")
        total = await cur.fetchone()
        cur = await conn.execute(
            f"select {COLUMNS} from bookings order by starts_at, id limit %s offset %s",
            (limit, offset),
        )
        items = await cur.fetchall()
    return _json(
        {"items": items, "total": total["n"] if total else 0, "limit": limit, "offset": offset}
    )


async def create(request: Request) -> Response:
    tenant = str(uuid.UUID(request.path_params["tenant"]))
    body = json.loads(await request.body())
    client, service = uuid.UUID(body["client_id"]), uuid.UUID(body["service_id"])
    starts = dt.datetime.fromisoformat(body["starts_at"])
    async with _pool(request).connection() as conn, conn.transaction():
        await conn.execute(PIN, (tenant,))
        cur = await conn.execute(
            "select 1 from tenant_memberships where user_id = %s and role = 'client'"
            " and status = 'active'",
            (client,),
        )
        if await cur.fetchone() is None:
            return _json({"error": {"code": "unknown_client"}}, 422)
        cur = await conn.execute(
            "select duration_minutes from services where id = %s and active", (service,)
        )
        found = await cur.fetchone()
        if found is None:
            return _json({"error": {"code": "unknown_service"}}, 422)
        ends = starts + dt.timedelta(minutes=found["duration_minutes"])
        cur = await conn.execute(
            "insert into bookings (tenant_id, client_id, service_id, starts_at, ends_at)"
            f" values (%s, %s, %s, %s, %s) returning {COLUMNS}",
            (tenant, client, service, starts, ends),
        )
        row = await cur.fetchone()
    return _json(row, 201)


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


Configure = Callable[[AsyncConnection[Any]], Any]


def make_app(dsn: str, *, pool_size: int = 10, configure: Configure | None = None) -> Starlette:
    """The bare app on ``dsn`` (the app role). ``configure`` runs on each new connection
    (the round-trip test traces the protocol with it)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncConnectionPool(
            dsn,
            min_size=pool_size,
            max_size=pool_size,
            kwargs={"row_factory": dict_row},
            configure=configure,
            open=False,
        ) as pool:
            app.state.pool = pool
            yield

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/bare/{tenant}/bookings", list_page),
            Route("/bare/{tenant}/bookings/create", create, methods=["POST"]),
            Route("/bare/{tenant}/bookings/{booking}", read_one),
        ],
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """uvicorn factory: ``BENCH_BARE_DSN`` and optionally ``BENCH_BARE_POOL``."""
    return make_app(
        os.environ["BENCH_BARE_DSN"], pool_size=int(os.environ.get("BENCH_BARE_POOL", "10"))
    )

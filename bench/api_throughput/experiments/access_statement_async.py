"""Client CPU of the access statement on the async unit's path, three ways.

    python -m bench.api_throughput.experiments.access_statement_async

The request's access check (``tenantry.auth.dependencies._ACCESS_IN_TENANT``) runs in a
greenlet on the event loop, in a pinned transaction of a loop session, for a real
session row: through SQLAlchemy Core (``connection.execute``, as served), as the same
SQL through ``exec_driver_sql``, and on the psycopg ``AsyncConnection`` under it
(``await_``). The three must return the same row. Best of 7 x 2,000, each way measured
twice, interleaved; the figure includes the client's share of the round trip.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.util.concurrency import await_

from bench.api_throughput.data import seed
from bench.isolation_overhead.server import bench_database
from tenantry.auth import dependencies
from tenantry.db.engine import Database
from tenantry.db.loop import run_on_loop
from tenantry.isolation.context import TenantContext, tenant_context


def best_of(fn: Callable[[], Any], n: int = 2000) -> float:
    best = float("inf")
    for _ in range(7):
        started = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def measure(db: Database, tenant_id: Any, user_id: Any, session_id: Any) -> dict[str, list[float]]:
    stmt = dependencies._ACCESS_IN_TENANT
    params = {"user_id": user_id, "session_id": session_id, "tenant_id": tenant_id}
    with tenant_context(TenantContext(tenant_id=tenant_id, user_id=user_id)):
        session = db.loop_session()
        try:
            conn = session.connection()
            sql = str(stmt.compile(dialect=conn.dialect))
            raw = conn.connection.driver_connection

            def core() -> Any:
                return conn.execute(stmt, params).first()

            def driver_sql() -> Any:
                return conn.exec_driver_sql(sql, params).first()

            def driver() -> Any:
                cursor = await_(raw.execute(sql, params))
                return await_(cursor.fetchone())

            first = core()
            assert first is not None
            assert tuple(first) == tuple(driver_sql()) == tuple(driver())
            ways = (("Core", core), ("exec_driver_sql", driver_sql), ("psycopg async", driver))
            out: dict[str, list[float]] = {}
            for name, fn in ways * 2:
                out.setdefault(name, []).append(best_of(fn))
            return out
        finally:
            session.close()


def main() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="access-async-"))
    with bench_database(data_dir=data_dir) as urls:
        db = Database(urls)
        try:
            tenant = seed(db, bookings=1, label="access")
            with db.system_session(reason="bench: a session row") as s:
                user_id = s.execute(
                    text("select id from users where email = :e"), {"e": tenant.owner_email}
                ).scalar_one()
                session_id = s.execute(
                    text("insert into user_sessions (user_id) values (:u) returning id"),
                    {"u": user_id},
                ).scalar_one()
                s.commit()

            async def run() -> dict[str, list[float]]:
                return await run_on_loop(measure, db, tenant.id, user_id, session_id)

            out = asyncio.run(run())
        finally:
            db.dispose()
    for name, runs in out.items():
        print(f"{name:16} {' / '.join(f'{x:6.1f}' for x in runs)} us per statement")
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Client CPU of a request's database unit, whole and by part, on the loop engine.

    python -m bench.api_throughput.experiments.unit_cost [--n 2000] [--rounds 5]
        [--only NAME,NAME] [--profile FILE] [--profile-way NAME] [--loop uvloop|asyncio]

What a served read and list do on the database side, without HTTP or FastAPI, in a
greenlet on the event loop (``run_on_loop``) as a request's unit runs, in a tenant
context, on the app's loop engine (``Database.loop_session``): a session, its pinned
``BEGIN``, the raw access statement (as ``auth.dependencies._read_on_driver`` sends it),
the ORM read (``bookings.get`` / ``bookings.page``), ``model_validate`` of the rows, the
commit and the close. Each way is cut down step by step (``empty`` = session, checkout,
BEGIN+pin, commit, close; ``access`` the check as a statement of its own, as before session 9;
``access_rider`` the check in the BEGIN message, as served since; ``get``/``get_rider``,
``page``, ``+validate``), and the read's statements are also timed on the raw psycopg
``AsyncConnection`` (``raw_read``: the floor; ``raw_read_exec``: the check EXECUTEd in the
BEGIN message), a Core read (``core_get``) and a plain ORM session without the guard
(``plain_orm_get``), so the difference between two ways is what one step costs.
``get_rider@s10`` and ``page@s10`` run ``get_rider`` and ``page`` on session 10's loop
engine (psycopg's own connection and cursor, the pool's reset always a rollback): an
A/B of session 11's driver changes in one process. The server
CPU of the app role's backends is read from ``/proc`` (10 ms ticks: use many units).

Each figure: best of ``--rounds`` x ``--n`` of ``time.process_time()`` per unit (client CPU,
including the client's share of each round trip), ways interleaved round by round.
``--profile FILE`` writes a cProfile of ``--profile-way`` (sorted by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.util.concurrency import await_

from bench.api_throughput.data import seed
from bench.isolation_overhead.server import bench_database
from tenantry.auth import dependencies
from tenantry.bookings.repository import BookingFilters, bookings, by_start
from tenantry.bookings.schemas import BookingOut
from tenantry.db.engine import Database, loop_app_engine
from tenantry.db.loop import run_on_loop
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.guard import GuardedSession
from tenantry.isolation.pin import begin_message, pin_of, send_begin_async
from tenantry.kit.pagination import PageParams

Unit = Callable[[Callable[[Any], Any]], Callable[[], Any]]  # a way's body -> the timed call


def _unit_on(make_session: Callable[[], Any]) -> Unit:
    """A way's unit: a session from ``make_session``, the body, commit, close."""

    def unit(body: Callable[[Any], Any]) -> Callable[[], Any]:
        def run() -> Any:
            session = make_session()
            try:
                out = body(session)
                session.commit()
            finally:
                session.close()
            return out

        return run

    return unit


def ways(db: Database, ids: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Each way runs one whole unit (a transaction); built inside the tenant context."""
    tenant_id, user_id, booking_id = ids["tenant"], ids["user"], ids["booking"]
    access_params = {"user_id": user_id, "session_id": ids["session"], "tenant_id": tenant_id}
    page_params = PageParams(limit=20, offset=0)
    ctx = TenantContext(tenant_id=tenant_id, user_id=user_id)

    def access(session: Any) -> None:
        conn = session.connection()
        sql = dependencies._access_sql(conn, True)
        row = dependencies._read_on_driver(conn, sql, access_params)
        assert row is not None

    unit = _unit_on(db.loop_session)

    login = SimpleNamespace(user_id=user_id, session_id=ids["session"], tenant_id=tenant_id)

    def access_rider(session: Any) -> None:
        """The check in the BEGIN message (``check_access`` as served since orm9)."""
        assert dependencies.check_access(session, login, tenant_id) is not None  # type: ignore[arg-type]

    def get_rider(session: Any) -> Any:
        access_rider(session)
        found = bookings.get(session, booking_id)
        assert found is not None
        return found

    def get_rider_validated(session: Any) -> Any:
        """The read as served before session 12: the ORM object, then model_validate."""
        return BookingOut.model_validate(get_rider(session))

    def row_rider_validated(session: Any) -> Any:
        """The read as served since session 12 (orm12): the guarded statement on the
        driver (``Repository.row_or_404``, ``tenantry.db.direct``), then model_validate."""
        access_rider(session)
        return BookingOut.model_validate(bookings.row_or_404(session, booking_id))

    def row_commit_rider_validated(session: Any) -> Any:
        """Experiment (orm12, not served): the read and its transaction's COMMIT in one
        simple-protocol message (psycopg's client-side binding), so the unit's commit
        finds the server idle and sends nothing: one round trip fewer. Text results."""
        access_rider(session)
        from tenantry.db import direct
        from tenantry.isolation.guard import scoped_read

        stmt = bookings._row_by_id
        assert stmt is not None
        params = {"id": booking_id}
        guarded = scoped_read(session, stmt, params)
        connection = session.connection()
        plan = direct._plan(guarded, stmt, connection.dialect)
        assert plan is not None
        raw = connection.connection.driver_connection
        cursor = psycopg.AsyncClientCursor(raw)
        await_(cursor.execute(plan.sql + "; COMMIT", plan.parameters(params)))
        row = await_(cursor.fetchone())
        return BookingOut.model_validate(dict(zip(plan.keys, row, strict=True)))

    def empty(session: Any) -> None:
        session.connection()

    def get(session: Any) -> Any:
        access(session)
        found = bookings.get(session, booking_id)
        assert found is not None
        return found

    from sqlalchemy import bindparam, func, select
    from sqlalchemy.orm import Session

    from tenantry.bookings.models import Booking
    from tenantry.kit.pagination import Page

    # The same row without the guard: explicit tenant criterion (bench only).
    by_id = select(Booking).where(
        Booking.id == bindparam("id"), Booking.tenant_id == bindparam("t")
    )
    core_by_id = select(*Booking.__table__.c).where(
        Booking.__table__.c.id == bindparam("id"),
        Booking.__table__.c.tenant_id == bindparam("t"),
    )
    plain = {"bind": db.loop_engine.sync_engine}

    plain_unit = _unit_on(lambda: Session(**plain, expire_on_commit=False))

    def orm_unguarded(session: Any) -> Any:
        access(session)
        return session.scalar(by_id, {"id": booking_id, "t": tenant_id})

    def core_get(session: Any) -> Any:
        access(session)
        return session.connection().execute(core_by_id, {"id": booking_id, "t": tenant_id}).first()

    def get_validated(session: Any) -> Any:
        return BookingOut.model_validate(get(session))

    # The output's columns instead of the entity (rows, no instance, no identity map).
    cols_by_id = select(*(getattr(Booking, name) for name in BookingOut.model_fields)).where(
        Booking.id == bindparam("id")
    )

    def get_cols_validated(session: Any) -> Any:
        access(session)
        row = session.execute(cols_by_id, {"id": booking_id}).first()
        assert row is not None
        return BookingOut.model_validate(row)

    def page(session: Any) -> Any:
        access(session)
        stmt = by_start(BookingFilters())
        return bookings.page(session, stmt, page_params)

    def page_validated(session: Any) -> Any:
        return page(session).map(BookingOut.model_validate)

    def page_fresh(session: Any) -> Any:
        """The page with its statement built afresh (as a builder without built_once)."""
        access(session)
        stmt = by_start.__wrapped__(BookingFilters())  # type: ignore[attr-defined]
        return bookings.page(session, stmt, page_params)

    def page_fresh_validated(session: Any) -> Any:
        return page_fresh(session).map(BookingOut.model_validate)

    out_columns = [getattr(Booking, name) for name in BookingOut.model_fields]

    def page_cols_validated(session: Any) -> Any:
        """The page of the output's columns (rows, no ORM objects), then model_validate."""
        access(session)
        stmt = by_start(BookingFilters()).with_only_columns(*out_columns)
        return bookings.page(session, stmt, page_params).map(BookingOut.model_validate)

    def page_two(session: Any) -> Any:
        """The page as main sent it before session 10: the count, then the page."""
        access(session)
        stmt = by_start(BookingFilters())
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        sliced = stmt.limit(page_params.limit).offset(page_params.offset)
        if len(sliced.column_descriptions) == 1:
            rows = session.scalars(sliced).all()
        else:
            rows = session.execute(sliced).all()
        return Page.of(rows, total or 0, page_params)

    def page_two_validated(session: Any) -> Any:
        return page_two(session).map(BookingOut.model_validate)

    # The floor: the same messages on the psycopg AsyncConnection of one pooled
    # connection held for the whole run (no pool, no SQLAlchemy).
    held = db.loop_engine.sync_engine.raw_connection()
    raw = held.driver_connection
    begin = begin_message(pin_of(ctx))
    access_sql = dependencies._access_sql(SimpleNamespace(dialect=db.loop_engine.dialect), True)  # type: ignore[arg-type]
    raw_by_id = (
        "SELECT bookings.id, bookings.tenant_id, bookings.client_id, bookings.assignee_id,"
        " bookings.service_id, bookings.service_request_id, bookings.starts_at,"
        " bookings.ends_at, bookings.status, bookings.notes, bookings.created_at,"
        " bookings.updated_at FROM bookings WHERE bookings.id = %(id)s"
        " AND bookings.tenant_id = %(t)s"
    )

    def raw_read() -> Any:
        await_(send_begin_async(raw, begin))
        cur = await_(raw.execute(access_sql, access_params))
        assert await_(cur.fetchone()) is not None
        cur = await_(raw.execute(raw_by_id, {"id": booking_id, "t": tenant_id}))
        row = await_(cur.fetchone())
        await_(raw.commit())
        return row

    template = str(dependencies._ACCESS_IN_TENANT.compile(dialect=db.loop_engine.dialect))
    for i, name in enumerate(("user_id", "session_id", "tenant_id"), 1):
        template = template.replace(f"%({name})s", f"${i}")
    await_(raw.execute(f"PREPARE tenantry_access (uuid, uuid, uuid) AS {template}".encode()))
    execute = (
        begin
        + f"; EXECUTE tenantry_access('{user_id}', '{ids['session']}', '{tenant_id}')".encode()
    )

    def raw_read_executed() -> Any:
        result = await_(send_begin_async(raw, execute))
        assert result.ntuples == 1
        cur = await_(raw.execute(raw_by_id, {"id": booking_id, "t": tenant_id}))
        row = await_(cur.fetchone())
        await_(raw.commit())
        return row

    # Session 10's loop engine, for A/B in this process (session 11 changed the app's):
    # psycopg's own connection and cursor (the BEGIN message sent with an await of its
    # own, the description built on every read) and the pool's reset always a rollback.
    s10 = loop_app_engine(
        db.urls.serving,
        pool_size=2,
        max_overflow=0,
        connect_args={
            "async_creator_fn": psycopg.AsyncConnection.connect,
            "cursor_factory": psycopg.AsyncCursor,
        },
    )
    s10_dialect: Any = s10.sync_engine.dialect
    s10_dialect.do_rollback = types.MethodType(DefaultDialect.do_rollback, s10_dialect)

    s10_unit = _unit_on(lambda: GuardedSession(bind=s10.sync_engine, expire_on_commit=False))

    return {
        "get_rider@s10": s10_unit(get_rider),
        "page@s10": s10_unit(page),
        "raw_read": raw_read,
        "raw_read_exec": raw_read_executed,
        "empty": unit(empty),
        "access": unit(access),
        "access_rider": unit(access_rider),
        "get_rider": unit(get_rider),
        "get_rider+validate": unit(get_rider_validated),
        "row_rider+validate": unit(row_rider_validated),
        "row+commit_rider+validate": unit(row_commit_rider_validated),
        "get": unit(get),
        "get+validate": unit(get_validated),
        "get_cols+validate": unit(get_cols_validated),
        "core_get": unit(core_get),
        "plain_orm_get": plain_unit(orm_unguarded),
        "plain_access": plain_unit(access),
        "page": unit(page),
        "page+validate": unit(page_validated),
        "page_fresh": unit(page_fresh),
        "page_fresh+validate": unit(page_fresh_validated),
        "page_cols+validate": unit(page_cols_validated),
        "page_two": unit(page_two),
        "page_two+validate": unit(page_two_validated),
    }


def _backend_cpu(pids: list[int]) -> float:
    """Seconds of CPU (user + system) the server processes ``pids`` have used."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


BACKENDS: list[int] = []
SERVER: dict[str, list[float]] = {}
WALL: dict[str, list[float]] = {}


def best_of(fn: Callable[[], Any], n: int, name: str = "") -> float:
    server = _backend_cpu(BACKENDS)
    wall = time.perf_counter()
    started = time.process_time()
    for _ in range(n):
        fn()
    spent = (time.process_time() - started) / n * 1e6
    WALL.setdefault(name, []).append((time.perf_counter() - wall) / n * 1e6)
    SERVER.setdefault(name, []).append((_backend_cpu(BACKENDS) - server) / n * 1e6)
    return spent


def measure(db: Database, ids: dict[str, Any], args: argparse.Namespace) -> dict[str, list[float]]:
    ctx = TenantContext(tenant_id=ids["tenant"], user_id=ids["user"])
    with tenant_context(ctx):
        table = ways(db, ids)
        names = args.only.split(",") if args.only else list(table)
        for name in names:  # warm every cache
            for _ in range(50):
                table[name]()
        # The app role's server processes (the pool's and the held one), for their CPU.
        with db.system_session(reason="bench: backends") as s:
            BACKENDS[:] = (
                s.execute(
                    text("select pid from pg_stat_activity where usename = :u"),
                    {"u": db.urls.serving.username},
                )
                .scalars()
                .all()
            )
        out: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else list(reversed(names)):
                out[name].append(best_of(table[name], args.n, name))
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            fn = table[args.profile_way]
            profiler.enable()
            for _ in range(args.n):
                fn()
            profiler.disable()
            with open(args.profile, "w") as handle:
                stats = pstats.Stats(profiler, stream=handle)
                stats.sort_stats("tottime").print_stats(60)
                stats.sort_stats("cumulative").print_stats(80)
                stats.print_callers("wait_async|_column.py|await_")
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--profile")
    parser.add_argument("--profile-way", default="get")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="unit-cost-"))
    load_before = os.getloadavg()
    with bench_database(data_dir=data_dir) as urls:
        db = Database(urls)
        try:
            tenant = seed(db, bookings=200, label="unit")
            with db.system_session(reason="bench: a session row") as s:
                user_id = s.execute(
                    text("select id from users where email = :e"), {"e": tenant.owner_email}
                ).scalar_one()
                session_id = s.execute(
                    text("insert into user_sessions (user_id) values (:u) returning id"),
                    {"u": user_id},
                ).scalar_one()
            ids = {
                "tenant": tenant.id,
                "user": user_id,
                "session": session_id,
                "booking": tenant.booking_id,
            }

            async def run() -> dict[str, list[float]]:
                return await run_on_loop(measure, db, ids, args)

            if args.loop == "uvloop":
                import uvloop

                out = uvloop.run(run())
            else:
                out = asyncio.run(run())
        finally:
            db.dispose()
    print(
        f"per unit, us ({args.loop}; {args.rounds} x {args.n}): best (median) of client CPU,"
        " server CPU (the app role's backends, /proc, 10 ms ticks), wall"
    )
    for name, runs in out.items():
        cells = []
        for figures in (runs, SERVER[name], WALL[name]):
            ordered = sorted(figures)
            cells.append(f"{ordered[0]:7.1f} ({ordered[len(ordered) // 2]:7.1f})")
        print(f"  {name:16} " + "   ".join(cells))
    print(f"load average before {load_before}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""On the loop engine the pinned BEGIN message travels inside the first statement's wait
(``tenantry.isolation.pin.PinningAsyncConnection``): the same guarantees as a BEGIN sent
on its own.

- The pin reaches the server before any statement of the transaction — an
  ``executemany`` (psycopg's pipeline mode) and a raw statement on the driver too.
- A failed pin fails the transaction: no statement of it runs unpinned, and the
  connection serves the next transaction, pinned to that one's tenant.
- Nothing pending outlives its transaction: a transaction that ran no statement sends
  nothing, and the next one on the same pooled connection (another tenant, no tenant,
  AUTOCOMMIT) is never pinned to it.
- The pool still rolls back a connection given back inside a transaction (its
  reset-on-return is skipped only when the server is idle).

Round trips are counted from libpq's trace (``tests/roundtrips.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util.concurrency import await_

from tenantry.db.engine import loop_app_engine
from tenantry.db.loop import run_on_loop, run_to_end
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.isolation.pin import PinningAsyncConnection, begin_message, pin_in_first_statement
from tests.roundtrips import trace_engine

T = TypeVar("T")
SETTING = text("select current_setting('app.current_tenant_id', true)")


def on_loop(fn: Callable[..., T], *args: Any) -> T:
    return asyncio.run(run_on_loop(fn, *args))


@pytest.fixture
def one_connection(db) -> Iterator[Engine]:
    """The app's loop engine with a pool of exactly one connection (its sync face)."""
    engine = loop_app_engine(db.urls.app, pool_size=1, max_overflow=0)
    yield engine.sync_engine
    run_to_end(engine.dispose())


def _driver(conn: Any) -> PinningAsyncConnection:
    raw = conn.connection.driver_connection
    assert isinstance(raw, PinningAsyncConnection)
    return raw


def test_app_loop_connections_send_the_pin_in_the_first_statement(one_connection):
    assert pin_in_first_statement()  # this psycopg is the one it was written for

    def kind() -> type:
        with one_connection.connect() as conn:
            return type(conn.connection.driver_connection)

    assert on_loop(kind) is PinningAsyncConnection


def test_a_transaction_that_runs_no_statement_sends_nothing_and_pins_nothing_after_it(
    one_connection,
):
    a, b = uuid.uuid4(), uuid.uuid4()

    def on_the_driver() -> Any:
        # A statement straight on the driver, outside any transaction SQLAlchemy began.
        fairy = one_connection.raw_connection()
        try:
            cursor = fairy.cursor()
            cursor.execute("select current_setting('app.current_tenant_id', true)")
            return cursor.fetchone()[0]
        finally:
            fairy.close()

    def idle_then_others() -> list[Any]:
        seen = []
        with tenant_context(TenantContext(tenant_id=a)):
            with one_connection.connect() as conn:
                conn.begin()
                assert _driver(conn).begin_pending  # begun: A's pin waits for a statement
                conn.commit()
                assert not _driver(conn).begin_pending
            seen.append(on_the_driver())
            with one_connection.connect() as conn:
                conn.begin()
                conn.rollback()
            seen.append(on_the_driver())
            with one_connection.connect() as conn:
                conn.begin()  # closed without commit: closing rolls it back
            seen.append(on_the_driver())
        with tenant_context(TenantContext(tenant_id=b)), one_connection.connect() as conn:
            seen.append(conn.execute(SETTING).scalar())
        with one_connection.connect() as conn:  # no tenant at all
            seen.append(conn.execute(SETTING).scalar())
        with tenant_context(TenantContext(tenant_id=a)):
            with one_connection.connect() as conn:
                conn.begin()
            with one_connection.connect() as conn:
                auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                seen.append(auto.execute(SETTING).scalar())  # no transaction, no pin
        return seen

    with trace_engine(one_connection) as trip:
        seen = on_loop(idle_then_others)
    assert seen[:3] == [None, None, None], seen  # never pinned on this connection before
    assert seen[3] == str(b) and seen[4] in (None, "") and seen[5] in (None, ""), seen
    sent = "\n".join(trip.queries())
    assert str(a) not in sent, trip.queries()  # A's transactions ran nothing: sent nothing
    assert sent.count(str(b)) == 1


def test_an_executemany_first_statement_runs_after_the_pin(one_connection):
    """SQLAlchemy's executemany runs in psycopg's pipeline mode, which takes no
    simple-protocol message: the pin's statements go first, one by one."""
    tenant = uuid.uuid4()
    remember = text(
        "select set_config('tenantry_test.seen', current_setting('app.current_tenant_id', true)"
        " || '/' || :n, true)"
    )

    def run() -> Any:
        with tenant_context(TenantContext(tenant_id=tenant)), one_connection.connect() as conn:
            conn.execute(remember, [{"n": "1"}, {"n": "2"}])  # executemany, first statement
            return conn.execute(text("select current_setting('tenantry_test.seen')")).scalar()

    assert psycopg.Pipeline.is_supported()
    with trace_engine(one_connection) as trip:
        assert on_loop(run) == f"{tenant}/2"
    queries = trip.queries()
    assert "BEGIN" in queries[0] and "app.current_tenant_id" in queries[1], queries


def test_a_statement_on_the_driver_itself_runs_after_the_pin(one_connection):
    tenant = uuid.uuid4()

    def run() -> Any:
        with tenant_context(TenantContext(tenant_id=tenant)), one_connection.connect() as conn:
            conn.begin()
            raw = _driver(conn)
            cursor = await_(raw.execute("select current_setting('app.current_tenant_id', true)"))
            return await_(cursor.fetchone())

    assert on_loop(run) == (str(tenant),)


@pytest.mark.parametrize(
    "broken",
    [
        # BEGIN runs, the next statement fails: the server's transaction is aborted
        b"BEGIN; SELECT 'not a uuid'::uuid; SET LOCAL app.current_user_id = ''",
        # a syntax error: the server runs none of the message and stays idle
        b"BEGIN ISOLATION LEVEL NONSENSE; SET LOCAL app.current_tenant_id = ''",
    ],
)
def test_a_failed_pin_fails_its_transaction_and_no_statement_of_it_runs_unpinned(
    one_connection, broken
):
    tenant = uuid.uuid4()

    def run() -> Any:
        with tenant_context(TenantContext(tenant_id=tenant)):
            with one_connection.connect() as conn:
                conn.begin()
                raw = _driver(conn)
                raw.begin_before_next_statement(broken)  # as if the pin had gone wrong
                with pytest.raises(DBAPIError):
                    conn.execute(SETTING)
                with pytest.raises(DBAPIError):  # and again: never without the pin
                    conn.execute(SETTING)
                assert raw.begin_pending
                conn.rollback()
                assert not raw.begin_pending
            with one_connection.connect() as conn:  # the connection serves the next one
                return conn.execute(SETTING).scalar()

    assert on_loop(run) == str(tenant)


def test_the_pool_rolls_back_a_connection_given_back_inside_a_transaction(one_connection):
    tenant = uuid.uuid4()

    def run() -> Any:
        with tenant_context(TenantContext(tenant_id=tenant)):
            fairy = one_connection.raw_connection()  # no SQLAlchemy transaction around it
            raw = fairy.driver_connection
            assert isinstance(raw, PinningAsyncConnection)
            raw.begin_before_next_statement(begin_message((tenant, None)))
            cursor = fairy.cursor()
            cursor.execute("select 1")
            assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            fairy.close()  # back to the pool: reset-on-return must roll it back
            assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with one_connection.connect() as conn:
            return conn.execute(SETTING).scalar()

    assert on_loop(run) in (None, "")

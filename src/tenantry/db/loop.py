"""Sync database work on the event loop, through SQLAlchemy's greenlet bridge.

A request's unit of work is sync code: the ORM, the access check, endpoints written as
plain functions. It used to run in a worker thread, and each hand-off to a thread and
back cost ~55 µs of CPU and dozens of GIL hand-offs per request (bench/README.md,
session 7). Now ``run_on_loop`` runs it in a greenlet on the event loop instead: its
statements go through psycopg's async connection, and each wait for the server lets the
loop serve other requests meanwhile.

What runs there must not block the loop. Database work cannot: ``Database`` hands out
sessions on its loop engines when ``on_loop()``, and its blocking engines refuse a
checkout there (``refuse_on_loop``) — a blocking wait on a row lock held by a
transaction that itself waits for the loop would never end. Other blocking work (password
hashing, sending mail) goes through ``off_loop``, which waits for a worker thread the way
a statement waits for the server; routes whose whole work blocks (archives, the metrics
exposition) stay ``async`` and hand it to a thread themselves.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
from sqlalchemy import Engine, event
from sqlalchemy.util.concurrency import await_, greenlet_spawn, in_greenlet
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class BlockingOnLoop(RuntimeError):
    """A blocking engine was asked for a connection on the event loop."""


def on_loop() -> bool:
    """Whether the caller runs in a greenlet on the event loop (``run_on_loop``)."""
    return in_greenlet()


async def run_on_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run sync ``fn`` in a greenlet on the event loop, in a copy of the context (as a
    worker thread would), and never cancelled half-way: a worker thread is not either,
    so a cancelled request still commits or rolls back and returns its connection."""
    context = contextvars.copy_context()
    with anyio.CancelScope(shield=True):
        result: T = await greenlet_spawn(context.run, fn, *args)
    return result


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Call blocking ``fn``: in a worker thread when the caller runs on the event loop
    (the loop serves others meanwhile), else right here."""
    if not on_loop():
        return fn(*args)
    return await_(run_in_threadpool(fn, *args))


def refuse_on_loop(engine: Engine, *, instead: str) -> None:
    """Make ``engine`` (a blocking one) refuse a checkout on the event loop."""

    @event.listens_for(engine, "checkout")
    def _refuse(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if on_loop():
            raise BlockingOnLoop(
                f"{engine.url.render_as_string()} would block the event loop; use {instead}"
            )


def run_to_end(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` from sync code: on a loop of its own, in a thread of its own
    when this thread already runs one (disposing a loop engine from a sync caller)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="tenantry-dispose")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]

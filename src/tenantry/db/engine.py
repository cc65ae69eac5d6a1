"""Engines and sessions.

``Database`` holds the app role's engines (everything the app serves goes through them,
under RLS), the migrator's (migrations and audited system scopes) and the job-queue
worker role's (queue metrics; it sees no tenant data). The app's and the migrator's
hand out ``GuardedSession``s, so the ORM guard is on for both.

The app role and the migrator each have two engines over the same database: a blocking
one (the CLI, the job worker, work handed to a thread) and a loop one on psycopg's
async connection, for sync code running on the event loop (``tenantry.db.loop``):
every request's unit of work, and whatever session such code opens. ``session()`` and
``system_session()`` pick the engine by where they are called; the request unit's
session is always a loop one (``loop_session``).

The app engines use ``tenantry.db.dialect``: each transaction begins with one message
that also pins the tenant (no extra round trip), and the pool checks a connection's
liveness without a round trip instead of ``pool_pre_ping``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from tenantry.db.bootstrap import DatabaseUrls, _one_line
from tenantry.db.dialect import ASYNC_DRIVERNAME, DRIVERNAME, install_liveness_check
from tenantry.db.loop import on_loop, refuse_on_loop, run_to_end
from tenantry.errors import DatabaseUnavailable
from tenantry.isolation.context import dangerously_enter_system_scope
from tenantry.isolation.guard import GuardedSession, GuardMode, session_class


class Database:
    def __init__(
        self,
        urls: DatabaseUrls,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        guard_mode: GuardMode = "enforce",
    ) -> None:
        self.urls = urls
        # The app role's blocking and loop engines are built alike, from one set of options.
        serving: dict[str, Any] = {
            # Through the pooler when one is configured (TENANTRY_APP_DATABASE_URL).
            "prepare": urls.app_pooled is None or urls.app_pooled_prepare,
            # A pooler in transaction mode may hand each transaction another server
            # session: no SQL PREPARE of our own there (``tenantry.db.dialect.Rider``).
            "riders": urls.app_pooled is None,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
        }
        self.app_engine = app_engine(urls.serving, **serving)
        self.loop_engine = loop_app_engine(urls.serving, **serving)
        self.migrator_engine = create_engine(urls.migrator, pool_size=2, pool_pre_ping=True)
        self.loop_migrator_engine = create_async_engine(
            urls.migrator.set(drivername="postgresql+psycopg_async"),
            pool_size=2,
            pool_pre_ping=True,
        )
        # The job queue's role: every tenant's jobs, no tenant data (queue depth metrics;
        # the worker itself connects through procrastinate's own pool).
        self.worker_engine = create_engine(
            urls.worker, pool_size=1, max_overflow=1, pool_pre_ping=True
        )
        for engine in (self.app_engine, self.migrator_engine, self.worker_engine):
            refuse_on_loop(engine, instead="Database.session() or system_session()")
        self.guard_mode = guard_mode
        # Bound per call (``bind=``): the engine depends on where the session is opened.
        self._sessions = sessionmaker(class_=session_class(guard_mode), expire_on_commit=False)
        self._system_sessions = sessionmaker(class_=GuardedSession, expire_on_commit=False)

    def loop_session(self) -> Session:
        """A session as the app role on the loop engine, for a request's unit of work
        (used only inside ``run_on_loop``); the caller commits (the request does, once)."""
        return self._sessions(bind=self.loop_engine.sync_engine)

    def new_session(self) -> Session:
        """A session as the app role, on the engine for where it is called; the caller
        commits."""
        return self._sessions(bind=self._app())

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work as the app role: commit on success, roll back on error."""
        with self._sessions(bind=self._app()) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def system_session(self, *, reason: str) -> Iterator[Session]:
        """A privileged unit of work (BYPASSRLS, no guard filter). Audited."""
        bind = self.loop_migrator_engine.sync_engine if on_loop() else self.migrator_engine
        with (
            dangerously_enter_system_scope(reason=reason),
            self._system_sessions(bind=bind) as session,
            session.begin(),
        ):
            yield session

    def connect(self) -> Connection:
        """A Core connection as the app role, on the engine for where it is called."""
        return self._app().connect()

    def _app(self) -> Engine:
        return self.loop_engine.sync_engine if on_loop() else self.app_engine

    def check(self) -> None:
        try:
            with self.app_engine.connect() as conn:
                conn.execute(text("select 1"))
        except OperationalError as exc:
            raise DatabaseUnavailable(_one_line(exc)) from exc

    def dispose(self) -> None:
        self.app_engine.dispose()
        self.migrator_engine.dispose()
        self.worker_engine.dispose()
        for engine in (self.loop_engine, self.loop_migrator_engine):
            run_to_end(engine.dispose())


def app_engine(url: URL, *, prepare: bool = True, riders: bool = True, **kwargs: Any) -> Engine:
    """An engine for the app role: transactions begun and pinned in one message, pooled
    connections checked without a round trip.

    ``prepare=False`` turns psycopg's server-side prepared statements off, for a pooler in
    transaction mode that cannot keep them (PgBouncer before 1.21). ``riders=False``: no
    read rides in a BEGIN message (``tenantry.db.dialect.Rider``: its SQL PREPARE
    needs one server session per connection, which a pooler in transaction mode breaks).
    """
    engine = create_engine(url.set(drivername=DRIVERNAME), **_app_options(prepare, kwargs))
    engine.dialect.riders = riders  # type: ignore[attr-defined]
    install_liveness_check(engine)
    return engine


def loop_app_engine(
    url: URL, *, prepare: bool = True, riders: bool = True, **kwargs: Any
) -> AsyncEngine:
    """``app_engine`` on psycopg's async connection (``TenantryAsyncDialect``), for sync
    code on the event loop: the same pinned BEGIN, the same liveness check."""
    engine = create_async_engine(
        url.set(drivername=ASYNC_DRIVERNAME), **_app_options(prepare, kwargs)
    )
    engine.dialect.riders = riders  # type: ignore[attr-defined]
    install_liveness_check(engine.sync_engine)
    return engine


def _app_options(prepare: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    connect_args = dict(kwargs.pop("connect_args", {}))
    if not prepare:
        connect_args["prepare_threshold"] = None
    return {**kwargs, "pool_pre_ping": False, "connect_args": connect_args}

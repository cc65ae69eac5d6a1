"""Engines and sessions.

``Database`` holds three engines: the app role's (everything the app serves goes
through it, under RLS), the migrator's (migrations and audited system scopes) and the
job-queue worker role's (queue metrics; it sees no tenant data).
The first two hand out ``GuardedSession``s, so the ORM guard is on for both.

The app engine uses ``tenantry.db.dialect``: each transaction begins with one message
that also pins the tenant (no extra round trip), and the pool checks a connection's
liveness without a round trip instead of ``pool_pre_ping``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tenantry.db.bootstrap import DatabaseUrls, _one_line
from tenantry.db.dialect import DRIVERNAME, install_liveness_check
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
        # Through the pooler when one is configured (TENANTRY_APP_DATABASE_URL).
        self.app_engine = app_engine(
            urls.serving,
            prepare=urls.app_pooled is None or urls.app_pooled_prepare,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        self.migrator_engine = create_engine(urls.migrator, pool_size=2, pool_pre_ping=True)
        # The job queue's role: every tenant's jobs, no tenant data (queue depth metrics;
        # the worker itself connects through procrastinate's own pool).
        self.worker_engine = create_engine(
            urls.worker, pool_size=1, max_overflow=1, pool_pre_ping=True
        )
        self.guard_mode = guard_mode
        self._sessions = sessionmaker(
            self.app_engine, class_=session_class(guard_mode), expire_on_commit=False
        )
        self._system_sessions = sessionmaker(
            self.migrator_engine, class_=GuardedSession, expire_on_commit=False
        )

    def new_session(self) -> Session:
        """A session as the app role; the caller commits (the request does, once)."""
        return self._sessions()

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work as the app role: commit on success, roll back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def system_session(self, *, reason: str) -> Iterator[Session]:
        """A privileged unit of work (BYPASSRLS, no guard filter). Audited."""
        with (
            dangerously_enter_system_scope(reason=reason),
            self._system_sessions() as session,
            session.begin(),
        ):
            yield session

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


def app_engine(url: URL, *, prepare: bool = True, **kwargs: Any) -> Engine:
    """An engine for the app role: transactions begun and pinned in one message, pooled
    connections checked without a round trip.

    ``prepare=False`` turns psycopg's server-side prepared statements off, for a pooler in
    transaction mode that cannot keep them (PgBouncer before 1.21).
    """
    connect_args = dict(kwargs.pop("connect_args", {}))
    if not prepare:
        connect_args["prepare_threshold"] = None
    engine = create_engine(
        url.set(drivername=DRIVERNAME), pool_pre_ping=False, connect_args=connect_args, **kwargs
    )
    install_liveness_check(engine)
    return engine

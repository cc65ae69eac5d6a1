"""The tenant-aware job runner on top of procrastinate. See the package docstring."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import procrastinate
import structlog
from procrastinate.job_context import JobContext
from procrastinate.manager import JobManager
from procrastinate.tasks import configure_task
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, require_tenant_id, tenant_context
from tenantry.observability.metrics import JOBS
from tenantry.settings import Settings

_log = structlog.get_logger("tenantry.jobs")

# Modules whose import registers tasks (the worker imports them all).
TASK_MODULES = ("tenantry.reminders.tasks",)


@dataclass(frozen=True)
class JobEnv:
    """What a task body may use: the database (app role) and the settings."""

    db: Database
    settings: Settings


TaskBody = Callable[..., Any]


@dataclass(frozen=True)
class _Registered:
    name: str
    body: TaskBody
    retry: int


_REGISTRY: dict[str, _Registered] = {}


class JobRefused(Exception):
    """A job that does not name a valid tenant. It fails; its body never runs."""


def tenant_task(name: str, *, retry: int = 0) -> Callable[[TaskBody], TaskBody]:
    """Register ``body(env, *, tenant_id: uuid.UUID, **kwargs)`` as the task ``name``."""

    def register(body: TaskBody) -> TaskBody:
        if name in _REGISTRY and _REGISTRY[name].body is not body:
            raise ValueError(f"task {name!r} is already registered")
        _REGISTRY[name] = _Registered(name, body, retry)
        return body

    return register


def _import_task_modules() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)


def registered_tasks() -> list[str]:
    return sorted(_REGISTRY)


def run_in_tenant(
    task: _Registered, env: JobEnv, job_id: int | None, kwargs: dict[str, Any]
) -> Any:
    """Refuse a job without a tenant; otherwise run its body inside that tenant's context.

    Counts the outcome per task (``tenantry_jobs_total``: succeeded, failed, refused).
    """
    try:
        result = _run_in_tenant(task, env, job_id, kwargs)
    except JobRefused:
        JOBS.labels(task.name, "refused").inc()
        raise
    except BaseException:
        JOBS.labels(task.name, "failed").inc()
        raise
    JOBS.labels(task.name, "succeeded").inc()
    return result


def _run_in_tenant(
    task: _Registered, env: JobEnv, job_id: int | None, kwargs: dict[str, Any]
) -> Any:
    raw = kwargs.pop("tenant_id", None)
    try:
        tenant_id = uuid.UUID(str(raw)) if raw is not None else None
    except ValueError:
        tenant_id = None
    if tenant_id is None:
        _log.error(
            "security_event",
            code="job_refused",
            kind="job_without_tenant",
            task=task.name,
            job_id=job_id,
            tenant_id=None if raw is None else str(raw)[:64],
        )
        raise JobRefused(f"job {job_id} of {task.name} names no valid tenant_id; refused")
    ctx = TenantContext(tenant_id=tenant_id, scope="tenant", request_id=f"job-{job_id}")
    with (
        tenant_context(ctx),
        structlog.contextvars.bound_contextvars(
            tenant_id=str(tenant_id), job_id=job_id, task=task.name
        ),
    ):
        return task.body(env, tenant_id=tenant_id, **kwargs)


def conninfo(url: URL) -> str:
    """A libpq connection string from an SQLAlchemy URL (the app role's)."""
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "dbname": url.database,
        "user": url.username,
        "password": url.password,
    }
    params.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


def build_job_app(env: JobEnv) -> procrastinate.App:
    """A procrastinate app over the APP role (under RLS, no BYPASSRLS) with every task."""
    _import_task_modules()
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(env.db.urls.app))
    )
    for registered in _REGISTRY.values():
        app.task(name=registered.name, pass_context=True, retry=registered.retry)(
            _procrastinate_task(registered, env)
        )
    return app


def _procrastinate_task(registered: _Registered, env: JobEnv) -> Callable[..., Any]:
    def task(context: JobContext, **kwargs: Any) -> Any:
        job_id = context.job.id if context.job else None
        return run_in_tenant(registered, env, job_id, kwargs)

    task.__name__ = task.__qualname__ = registered.name.replace(".", "_")
    return task


# Deferring needs no pool: the job is written on the caller's own connection.
_DEFER_MANAGER = JobManager(connector=procrastinate.SyncPsycopgConnector())


def defer(
    session: Session,
    name: str,
    *,
    schedule_at: datetime | None = None,
    lock: str | None = None,
    **kwargs: Any,
) -> int:
    """Enqueue task ``name`` for the CURRENT tenant, in ``session``'s transaction.

    The job row is inserted on the session's own connection, so it commits or rolls
    back with the rows that made it necessary.
    """
    if name not in _REGISTRY:
        _import_task_modules()
        if name not in _REGISTRY:
            raise ValueError(f"unknown task {name!r}")
    if "tenant_id" in kwargs:
        raise ValueError("the tenant of a job comes from the context, not an argument")
    tenant_id = require_tenant_id()
    connection = session.connection().connection.driver_connection
    deferrer = configure_task(
        name=name,
        job_manager=_DEFER_MANAGER,
        connection=connection,
        schedule_at=schedule_at,
        lock=lock,
    )
    return deferrer.defer(tenant_id=str(tenant_id), **kwargs)

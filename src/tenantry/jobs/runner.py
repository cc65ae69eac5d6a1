"""The tenant-aware job runner on top of procrastinate. See the package docstring."""

from __future__ import annotations

import dataclasses
import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
import structlog
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.manager import JobManager
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.tasks import configure_task
from psycopg.conninfo import make_conninfo
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.util.concurrency import await_

from tenantry.db.engine import Database
from tenantry.db.tenant_status import ACTIVE, tenant_status
from tenantry.isolation.context import TenantContext, require_tenant_id, tenant_context
from tenantry.jobs.models import HeldJob
from tenantry.observability.metrics import JOBS
from tenantry.settings import Settings

_log = structlog.get_logger("tenantry.jobs")

# Modules whose import registers tasks (the worker imports them all).
TASK_MODULES = ("tenantry.reminders.tasks", "tenantry.accounts.tasks")
# The one task without a tenant the database lets the app role queue (defer_account_job).
ACCOUNT_TASK = "accounts.send_mail"
ACCOUNT_QUEUE = "accounts"


@dataclass(frozen=True)
class JobEnv:
    """What a task body may use: the database (app role) and the settings; and, per
    run, which attempt this is (0 first) and whether a failure now is final."""

    db: Database
    settings: Settings
    attempt: int = 0
    last_attempt: bool = True


TaskBody = Callable[..., Any]


class TenantJobRetry(BaseRetryStrategy):
    """Retry a failed job with exponential backoff, then park it (status ``failed``).

    No job of ours takes a procrastinate ``lock``: a lock makes every later job with the
    same lock wait for the earliest one, however far in the future it is scheduled or
    however often it fails (issue 8, finding 4). A retrying job is simply scheduled
    later and blocks nothing. ``JobRefused`` (no valid tenant) is never retried.
    """

    def __init__(self, max_attempts: int, first_wait_s: int = 30, max_wait_s: int = 3600) -> None:
        self.max_attempts = max_attempts
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s

    def wait_s(self, attempts: int) -> int:
        """Seconds before the next run, after ``attempts`` failed runs (1 = the first)."""
        return int(min(self.max_wait_s, self.first_wait_s * 2 ** max(0, attempts - 1)))

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, JobRefused):
            return None
        runs = job.attempts + 1  # job.attempts counts the runs before this one
        if runs >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": self.wait_s(runs)})


DEFAULT_ATTEMPTS = 5


@dataclass(frozen=True)
class _Registered:
    name: str
    body: TaskBody
    attempts: int
    # False for account tasks: they run with no tenant at all (see ``account_task``).
    tenant_scoped: bool = True
    queue: str | None = None


_REGISTRY: dict[str, _Registered] = {}


class JobRefused(Exception):
    """A job that does not name a valid tenant. It fails; its body never runs."""


def tenant_task(name: str, *, attempts: int = DEFAULT_ATTEMPTS) -> Callable[[TaskBody], TaskBody]:
    """Register ``body(env, *, tenant_id: uuid.UUID, **kwargs)`` as the task ``name``,
    run at most ``attempts`` times (retried with backoff, then parked as ``failed``)."""

    def register(body: TaskBody) -> TaskBody:
        if name in _REGISTRY and _REGISTRY[name].body is not body:
            raise ValueError(f"task {name!r} is already registered")
        _REGISTRY[name] = _Registered(name, body, max(1, attempts))
        return body

    return register


def account_task(
    name: str, *, attempts: int = DEFAULT_ATTEMPTS, queue: str = "accounts"
) -> Callable[[TaskBody], TaskBody]:
    """Register ``body(env, **kwargs)`` as an *account* task: mail about a person's own
    account (verification, password reset, invitations), which belongs to no tenant.

    Its body runs in a context with no tenant and no user, so the ORM guard refuses
    every tenant-owned model and RLS shows no tenant's rows: an account task can only
    use what its arguments carry. A job of it that names a ``tenant_id`` is refused.
    """

    def register(body: TaskBody) -> TaskBody:
        if name in _REGISTRY and _REGISTRY[name].body is not body:
            raise ValueError(f"task {name!r} is already registered")
        _REGISTRY[name] = _Registered(
            name, body, max(1, attempts), tenant_scoped=False, queue=queue
        )
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
    """Refuse a job without a tenant; hold the job of a tenant that is not active;
    otherwise run its body inside that tenant's context.

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
    status = tenant_status(env.db, tenant_id)
    if status is None:
        _log.warning("job_for_unknown_tenant", task=task.name, job_id=job_id)
        raise JobRefused(f"job {job_id} of {task.name}: tenant {tenant_id} does not exist")
    ctx = TenantContext(tenant_id=tenant_id, scope="tenant", request_id=f"job-{job_id}")
    with (
        tenant_context(ctx),
        structlog.contextvars.bound_contextvars(
            tenant_id=str(tenant_id), job_id=job_id, task=task.name
        ),
    ):
        if status != ACTIVE:
            # A suspended tenant acts in nothing, in the background either: the job is
            # kept in its tenant's held_jobs and deferred again on reactivation.
            _hold(env.db, task=task.name, kwargs=kwargs, job_id=job_id)
            _log.info("job_held", status=status)
            return None
        return task.body(env, tenant_id=tenant_id, **kwargs)


def _hold(db: Database, *, task: str, kwargs: dict[str, Any], job_id: int | None) -> None:
    """In the current tenant's context: keep ``task(**kwargs)`` for reactivation
    (``jobs.held.release_held_jobs``)."""
    with db.session() as session:
        session.add(HeldJob(task_name=task, args=dict(kwargs), job_id=job_id))


def run_account_job(
    task: _Registered, env: JobEnv, job_id: int | None, kwargs: dict[str, Any]
) -> Any:
    """Run an account task's body with no tenant (and refuse a job that names one)."""
    if "tenant_id" in kwargs:
        JOBS.labels(task.name, "refused").inc()
        _log.error("security_event", kind="account_job_with_tenant", task=task.name, job_id=job_id)
        raise JobRefused(f"job {job_id} of account task {task.name} names a tenant; refused")
    ctx = TenantContext(tenant_id=None, scope="public", request_id=f"job-{job_id}")
    with (
        tenant_context(ctx),
        structlog.contextvars.bound_contextvars(job_id=job_id, task=task.name),
    ):
        try:
            result = task.body(env, **kwargs)
        except BaseException:
            JOBS.labels(task.name, "failed").inc()
            raise
    JOBS.labels(task.name, "succeeded").inc()
    return result


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
    """A procrastinate app over the WORKER role (the job queue's tables and nothing
    else) with every task; task bodies use ``env.db``, the app role, in their tenant."""
    _import_task_modules()
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=conninfo(env.db.urls.worker))
    )
    for registered in _REGISTRY.values():
        options: dict[str, Any] = {"queue": registered.queue} if registered.queue else {}
        app.task(
            name=registered.name,
            pass_context=True,
            retry=TenantJobRetry(registered.attempts),
            **options,
        )(_procrastinate_task(registered, env))
    return app


def _procrastinate_task(registered: _Registered, env: JobEnv) -> Callable[..., Any]:
    def task(context: JobContext, **kwargs: Any) -> Any:
        job = context.job
        attempt = job.attempts if job else 0
        run_env = dataclasses.replace(
            env, attempt=attempt, last_attempt=attempt + 1 >= registered.attempts
        )
        job_id = job.id if job else None
        if not registered.tenant_scoped:
            return run_account_job(registered, run_env, job_id, kwargs)
        return run_in_tenant(registered, run_env, job_id, kwargs)

    task.__name__ = task.__qualname__ = registered.name.replace(".", "_")
    return task


# Deferring needs no pool: the job is written on the caller's own connection — a
# blocking one, or (a request's unit, on the event loop) psycopg's async one.
_DEFER_MANAGER = JobManager(connector=procrastinate.SyncPsycopgConnector())
_DEFER_ON_LOOP_MANAGER = JobManager(connector=procrastinate.PsycopgConnector())


def defer(
    session: Session,
    name: str,
    *,
    schedule_at: datetime | None = None,
    **kwargs: Any,
) -> int:
    """Enqueue task ``name`` for the CURRENT tenant, in ``session``'s transaction.

    The job row is inserted on the session's own connection, so it commits or rolls
    back with the rows that made it necessary. There is deliberately no ``lock``
    argument: see ``TenantJobRetry``.
    """
    task = _registered(name)
    if not task.tenant_scoped:
        raise ValueError(f"{name!r} is an account task: use defer_account")
    if "tenant_id" in kwargs:
        raise ValueError("the tenant of a job comes from the context, not an argument")
    tenant_id = require_tenant_id()
    connection = session.connection().connection.driver_connection
    on_loop = isinstance(connection, psycopg.AsyncConnection)
    deferrer = configure_task(
        name=name,
        job_manager=_DEFER_ON_LOOP_MANAGER if on_loop else _DEFER_MANAGER,
        connection=connection,
        schedule_at=schedule_at,
    )
    if on_loop:
        return await_(deferrer.defer_async(tenant_id=str(tenant_id), **kwargs))
    return deferrer.defer(tenant_id=str(tenant_id), **kwargs)


def cancel(session: Session, job_id: int) -> bool:
    """Cancel a job that has not started (in ``session``'s transaction); False if it
    already ran, runs, or is not this tenant's."""
    cancelled = session.execute(
        text("select procrastinate_cancel_job_v1(:id, false, false)"), {"id": job_id}
    ).scalar()
    return cancelled is not None


def defer_account(session: Session, name: str, **kwargs: Any) -> int:
    """Enqueue account task ``name`` in ``session``'s transaction (no tenant).

    Through the database function ``defer_account_job`` (migration ``20261130_0012``):
    the app role may insert no job without a tenant into the queue itself (RLS), and the
    function queues only the account mail task, on its own queue.
    """
    task = _registered(name)
    if task.tenant_scoped:
        raise ValueError(f"{name!r} is a tenant task: use defer")
    if (name, task.queue) != (ACCOUNT_TASK, ACCOUNT_QUEUE):
        raise ValueError(f"{name!r}: the database queues only {ACCOUNT_TASK!r} without a tenant")
    if "tenant_id" in kwargs:
        raise ValueError("an account job belongs to no tenant")
    job_id = session.execute(
        text("select defer_account_job(cast(:args as jsonb))"), {"args": json.dumps(kwargs)}
    ).scalar_one()
    return int(job_id)


def _registered(name: str) -> _Registered:
    if name not in _REGISTRY:
        _import_task_modules()
        if name not in _REGISTRY:
            raise ValueError(f"unknown task {name!r}")
    return _REGISTRY[name]

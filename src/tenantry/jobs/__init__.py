"""Background jobs on a PostgreSQL queue (procrastinate), always run in a tenant's context.

* A task is declared with ``@tenant_task("area.name")``; its body receives the job
  environment and the tenant id: ``def body(env: JobEnv, *, tenant_id, **kwargs)``.
* ``defer(session, "area.name", ...)`` enqueues a job **inside the caller's
  transaction** (the request's session): the job exists if and only if the request's
  rows commit. Its ``tenant_id`` comes from the current tenant context, never from an
  argument.
* The worker (``tenantry worker``) enters ``tenant_context(TenantContext(tenant_id=...,
  scope="tenant"))`` before every task body, so the guard and RLS scope the task
  exactly as they scope a request. A job without a valid ``tenant_id`` is refused: it
  fails, is logged as a security event, and its body never runs.
* A job of a tenant that is not active is held (``jobs.held``), not run, and deferred
  again by ``tenantry.tenants.held.release_held_work`` once the tenant is active.
* A failing job is retried with exponential backoff (``TenantJobRetry``), then parked
  as ``failed``; no job takes a procrastinate lock, so none ever waits for another.
* ``cancel(session, job_id)`` cancels a job that has not started.
* The one exception is explicit: ``@account_task`` (mail about a person's own account,
  deferred with ``defer_account``) runs with NO tenant — it can touch no tenant's rows
  — on its own queue, ``accounts``. The app role queues it through the database function
  ``defer_account_job`` (the queue's RLS admits no job without a tenant otherwise).
"""

from tenantry.jobs.runner import (
    ACCOUNT_QUEUE,
    ACCOUNT_TASK,
    JobEnv,
    JobRefused,
    TenantJobRetry,
    account_task,
    build_job_app,
    cancel,
    defer,
    defer_account,
    registered_tasks,
    tenant_task,
)

__all__ = [
    "ACCOUNT_QUEUE",
    "ACCOUNT_TASK",
    "JobEnv",
    "JobRefused",
    "TenantJobRetry",
    "account_task",
    "build_job_app",
    "cancel",
    "defer",
    "defer_account",
    "registered_tasks",
    "tenant_task",
]

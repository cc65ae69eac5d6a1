"""``tenantry worker``: run the background job worker (reminders and other tenant jobs)."""

from __future__ import annotations

from typing import Annotated

import typer

from tenantry.cli_options import DataDir
from tenantry.errors import DatabaseUnavailable
from tenantry.ops.common import fail, load_settings


def worker_command(
    data_dir: DataDir = None,
    concurrency: Annotated[int, typer.Option(help="Jobs run in parallel.")] = 1,
    queue: Annotated[
        list[str] | None, typer.Option(help="Only these queues (repeatable); default all.")
    ] = None,
    once: Annotated[
        bool, typer.Option(help="Run what is due now, then exit (cron, tests).")
    ] = False,
) -> None:
    """Run the job worker. Every job runs inside the tenant context it names; a job
    without a tenant is refused."""
    from tenantry.db.runtime import open_database
    from tenantry.jobs import JobEnv, build_job_app

    settings = load_settings(data_dir)
    try:
        db = open_database(settings)
    except DatabaseUnavailable as exc:
        fail(f"cannot reach the database: {exc}")
        return
    job_app = build_job_app(JobEnv(db=db, settings=settings))
    typer.echo(f"worker: tasks {', '.join(sorted(job_app.tasks))}")
    try:
        job_app.run_worker(queues=queue or None, concurrency=concurrency, wait=not once)
    finally:
        db.dispose()

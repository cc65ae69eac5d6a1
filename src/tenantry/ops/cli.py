"""The ``tenantry`` command line."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from typing import Annotated, TypedDict

import typer

from tenantry.audit import audit_app
from tenantry.cli_options import DataDir
from tenantry.errors import DatabaseUnavailable
from tenantry.legacy.cli import db_app, legacy_app
from tenantry.ops.citus_cli import citus_app
from tenantry.ops.common import fail, load_settings
from tenantry.ops.migrations import migration_app
from tenantry.ops.tenant_cli import audit_log_command, operator_app, tenant_app
from tenantry.ops.worker import worker_command
from tenantry.probe.cli import probe_command
from tenantry.settings import Settings

app = typer.Typer(
    help="Tenantry: a multi-tenant platform for service businesses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from tenantry import __version__

        typer.echo(f"tenantry {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Tenantry: a multi-tenant platform for service businesses."""


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[
        str,
        typer.Option(
            help="Interface to listen on. Requests are served only for known hosts: "
            "list other names or IPs clients use in TENANTRY_ALLOWED_HOSTS."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on; 0 picks a free one and prints it.")
    ] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(help="Load demo data into an empty database.")] = True,
    job_worker: Annotated[
        bool,
        typer.Option(
            "--job-worker/--no-job-worker",
            help="Also run the job worker (reminders, background jobs) beside the server.",
        ),
    ] = True,
) -> None:
    """Migrate, load demo data on an empty database, start the job worker, and serve.

    Proxy headers (X-Forwarded-For) are believed only from TENANTRY_TRUSTED_PROXIES."""
    import uvicorn

    from tenantry.db.runtime import open_database
    from tenantry.ops.demo import is_empty, load_demo_data

    settings = load_settings(data_dir, loads_demo=demo)
    try:
        db = open_database(settings)
        if demo and is_empty(db):
            typer.echo("empty database: loading demo data (the accounts are listed below)")
            load_demo_data(db, settings.demo_password, progress=typer.echo)
        db.dispose()
    except DatabaseUnavailable as exc:
        fail(f"cannot reach the database: {exc}")
    # Workers build their app from the environment (tenantry.wsgi:app_from_env).
    os.environ["TENANTRY_DATA_DIR"] = str(settings.data_dir.resolve())
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process (workers, the job worker thread here) writes its metrics to
        # files there; /metrics in any worker adds them up.
        from tenantry.observability.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir((settings.data_dir / "prometheus").resolve())
    if job_worker:
        _start_job_worker_thread(settings)
    listen: dict[str, object] = {"host": host, "port": port}
    if port == 0:
        # Bind here and hand uvicorn the socket: the port printed is the one held, with
        # no window for another process to take it (tests and CI serve on port 0).
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        sock.set_inheritable(True)
        port = sock.getsockname()[1]
        listen = {"fd": sock.fileno()}
    typer.echo(banner(settings, host=host, port=port, demo=demo))
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit
    # lets exit handlers run, so the embedded PostgreSQL stops with the last user.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: a clean stop, no traceback
        uvicorn.run(
            "tenantry.wsgi:app_from_env",
            factory=True,
            workers=workers,
            **proxy_options(settings),
            loop=event_loop_setting(sys.platform),
            log_level="warning",
            access_log=False,
            lifespan="on",  # at shutdown the app writes what its ops recorder buffered
            **listen,  # type: ignore[arg-type]
        )


def event_loop_setting(platform: str) -> str:
    """uvicorn's ``loop`` option. Every request's unit of work waits on psycopg's async
    connection (``tenantry.db.loop``), which cannot run on the ``ProactorEventLoop`` that
    uvicorn picks on Windows for a single process: there, asyncio's selector loop."""
    return "asyncio:SelectorEventLoop" if platform == "win32" else "auto"


class ProxyOptions(TypedDict):
    proxy_headers: bool
    forwarded_allow_ips: list[str] | None


def proxy_options(settings: Settings) -> ProxyOptions:
    """uvicorn's proxy-header options from ``TENANTRY_TRUSTED_PROXIES``.

    uvicorn believes ``X-Forwarded-For`` from 127.0.0.1 unless told otherwise, so a
    client on the same machine (or behind any local hop) could pick its own address
    and with it a fresh rate-limit budget. Here: no proxy is trusted unless listed.
    """
    trusted = settings.trusted_proxy_list
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": None}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def banner(settings: Settings, *, host: str, port: int, demo: bool) -> str:
    """What a newcomer needs first: where to point the browser and how to sign in."""
    from tenantry import __version__
    from tenantry.kit.demo import DEMO_TENANTS, demo_accounts

    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a check
    base = f"http://{shown}:{port}"
    lines = [
        "",
        # "serving on <url>" is also what scripts read (CI, tests) to find a port-0 server.
        f"Tenantry {__version__} serving on {base} (data in {settings.data_dir}).",
        "",
        f"  Open the app      {base}/",
        f"  API docs          {base}/docs",
    ]
    if shown in ("127.0.0.1", "localhost") and settings.base_domain == "localhost":
        for slug, _ in DEMO_TENANTS if demo else ():
            lines.append(f"  {slug + ' (own host)':18}http://{slug}.localhost:{port}/")
    if demo:
        default = Settings.model_fields["demo_password"].default
        password = (
            f"password {settings.demo_password}"
            if settings.demo_password == default
            else "the password in TENANTRY_DEMO_PASSWORD"
        )
        lines += ["", f"Demo accounts ({password}):"]
        lines += [f"  {email:24} {what}" for email, what in demo_accounts()]
    logs = (
        "JSON log lines follow"
        if settings.json_logs
        else "only warnings and errors are logged here; TENANTRY_LOG_JSON=true for JSON lines"
    )
    lines += ["", f"Stop with Ctrl-C. {logs[0].upper()}{logs[1:]}.", ""]
    return "\n".join(lines)


def _start_job_worker_thread(settings: Settings) -> None:
    """Run the job worker in a daemon thread of the serving process.

    A thread rather than a child process: it ends with the server however the server
    ends (uvicorn re-raises SIGTERM after its graceful shutdown, which would skip any
    clean-up of a child). For more job throughput run ``tenantry worker`` separately.
    """
    from tenantry.db.runtime import open_database
    from tenantry.jobs import JobEnv, build_job_app

    job_app = build_job_app(JobEnv(db=open_database(settings, migrate=False), settings=settings))
    threading.Thread(
        target=job_app.run_worker,
        kwargs={"install_signal_handlers": False},
        daemon=True,
        name="tenantry-job-worker",
    ).start()


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create the roles and database if needed and migrate to the latest schema."""
    from tenantry.db.runtime import prepare_database

    try:
        urls = prepare_database(load_settings(data_dir))
    except DatabaseUnavailable as exc:
        fail(f"cannot reach the database: {exc}")
    typer.echo(f"database {urls.database} is at the latest revision")


@app.command("demo-data")
def demo_data(data_dir: DataDir = None) -> None:
    """Load the demo tenants and accounts (idempotent). Password: tenantry-demo, or
    TENANTRY_DEMO_PASSWORD."""
    from tenantry.db.runtime import open_database
    from tenantry.ops.demo import demo_accounts, load_demo_data

    settings = load_settings(data_dir, loads_demo=True)
    try:
        db = open_database(settings)
    except DatabaseUnavailable as exc:
        fail(f"cannot reach the database: {exc}")
    load_demo_data(db, settings.demo_password, progress=typer.echo)
    db.dispose()
    for email, what in demo_accounts():
        typer.echo(f"  {email:28} {what}")


app.add_typer(audit_app, name="audit")
app.add_typer(migration_app, name="migration")
audit_app.command("log")(audit_log_command)
app.add_typer(tenant_app, name="tenant")
app.add_typer(operator_app, name="operator")
app.add_typer(citus_app, name="citus")
app.command("probe")(probe_command)
app.command("worker")(worker_command)
app.add_typer(legacy_app, name="legacy")
app.add_typer(db_app, name="db")


def main() -> None:
    try:
        app()
    except DatabaseUnavailable as exc:
        typer.echo(f"error: cannot reach the database: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()

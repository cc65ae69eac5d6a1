"""Create the database and its three roles, and compute the URLs each role connects with.

* ``<db>_migrator`` owns the schema and runs Alembic. It has BYPASSRLS because
  lifecycle work (backfills, exports, purges) must see every tenant; the app never
  connects as it except inside an explicit, audited system scope.
* ``<db>_app`` is what the app serves through: owns nothing, not superuser, no
  BYPASSRLS, may only SELECT/INSERT/UPDATE/DELETE what the migrations grant — and
  nothing beyond (issue 8, finding 10): no TEMPORARY on the database (no temp tables,
  no functions in ``pg_temp``), no CREATE on any schema, no large objects
  (``lo_create`` & co. are revoked from PUBLIC in this database), nothing on
  ``alembic_version``, and only its own tenant's rows of the job queue (RLS).
* ``<db>_worker`` is what the job worker's queue connection uses: the job queue's
  tables and functions and nothing else — it reads every tenant's jobs (BYPASSRLS: it
  must, to run them) but has no privilege on any other table, so no tenant data; task
  bodies run as the app role in their tenant.

Every role created here has a password (kept in ``<data-dir>/secrets.json``), and the
embedded server checks it (``scram-sha-256`` in ``pg_hba.conf``, see ``db.embedded``).

Roles are named after the database so that several Tenantry databases (parallel
test runs, for instance) can live on one server. The PostgreSQL 15+ default (no
CREATE on ``public`` for PUBLIC) and the older one (CREATE for PUBLIC) end up the same
here: CREATE is revoked from PUBLIC explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from tenantry.errors import DatabaseUnavailable
from tenantry.settings import Settings, load_or_create_dev_secret

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
_log = structlog.get_logger("tenantry.db")

# Functions that create or write large objects; revoked from PUBLIC in our database
# (they are per-database catalog entries). Reading existing ones needs them too, and
# nothing of ours uses large objects, so every lo_* function goes.
LARGE_OBJECT_FUNCTIONS = """
select p.oid::regprocedure::text from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'pg_catalog' and (p.proname like 'lo\\_%' or p.proname in ('loread', 'lowrite'))
"""


@dataclass(frozen=True)
class DatabaseUrls:
    admin: URL
    migrator: URL
    app: URL  # direct: role set-up and anything needing a session of its own
    worker: URL
    database: str
    migrator_role: str
    app_role: str
    worker_role: str
    # Serving requests: the app role through a pooler (TENANTRY_APP_DATABASE_URL), if any.
    app_pooled: URL | None = None
    app_pooled_prepare: bool = False

    @property
    def roles(self) -> tuple[str, str, str]:
        return (self.app_role, self.worker_role, self.migrator_role)

    @property
    def serving(self) -> URL:
        """The URL request-serving connections use: the pooler's, else the direct one."""
        return self.app_pooled or self.app


def admin_url(settings: Settings) -> URL:
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    from tenantry.db.embedded import start_embedded

    return start_embedded(settings.pg_dir)


def resolve_urls(settings: Settings, admin: URL | None = None) -> DatabaseUrls:
    admin = admin or admin_url(settings)
    database = settings.database_name
    if not _IDENT.match(database):
        raise ValueError(f"database name {database!r} must be a lowercase identifier")
    migrator_role, app_role = f"{database}_migrator", f"{database}_app"
    worker_role = f"{database}_worker"
    migrator_pw = load_or_create_dev_secret(settings.data_dir, f"{database}_migrator_password")
    app_pw = load_or_create_dev_secret(settings.data_dir, f"{database}_app_password")
    worker_pw = load_or_create_dev_secret(settings.data_dir, f"{database}_worker_password")
    app = admin.set(username=app_role, password=app_pw, database=database)
    return DatabaseUrls(
        admin=admin,
        migrator=admin.set(username=migrator_role, password=migrator_pw, database=database),
        app=app,
        worker=admin.set(username=worker_role, password=worker_pw, database=database),
        database=database,
        migrator_role=migrator_role,
        app_role=app_role,
        worker_role=worker_role,
        app_pooled=pooled_url(settings.app_database_url, app)
        if settings.app_database_url
        else None,
        app_pooled_prepare=settings.app_database_prepare,
    )


def pooled_url(raw: str, app: URL) -> URL:
    """``TENANTRY_APP_DATABASE_URL`` with what it leaves out taken from the app role's
    direct URL (user, password, database), so the pooler's address is all one sets."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    else:
        raise ValueError(
            f"TENANTRY_APP_DATABASE_URL must be a postgresql:// URL, not {url.drivername}"
        )
    if not url.username or (url.username == app.username and url.password is None):
        url = url.set(username=app.username, password=app.password)
    return url.set(database=url.database or app.database)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe identifier {name!r}")
    return f'"{name}"'


# Server workers start together and each re-asserts the roles and grants: two sessions
# updating one catalogue row at once fail ("tuple concurrently updated"), so each holds
# this advisory lock (on the admin database) while it does so.
_BOOTSTRAP_LOCK = 0x7E4A_0B00


def ensure_database(urls: DatabaseUrls) -> None:
    """Create roles and database if missing, and (re)apply their attributes. Idempotent;
    concurrent callers take turns."""
    engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select pg_advisory_lock(:k)"), {"k": _BOOTSTRAP_LOCK})
            try:
                _ensure_database(urls)
            finally:
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": _BOOTSTRAP_LOCK})
    except OperationalError as exc:
        raise DatabaseUnavailable(_one_line(exc)) from exc
    finally:
        engine.dispose()


def _ensure_database(urls: DatabaseUrls) -> None:
    engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    mig, app, db = _ident(urls.migrator_role), _ident(urls.app_role), _ident(urls.database)
    worker = _ident(urls.worker_role)
    try:
        with engine.connect() as conn:
            for role, attrs, pw in (
                (
                    urls.migrator_role,
                    "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS",
                    urls.migrator.password,
                ),
                (
                    urls.app_role,
                    "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT",
                    urls.app.password,
                ),
                (
                    # BYPASSRLS for the job queue's RLS (it runs every tenant's jobs);
                    # its grants are the queue's tables only (audit: worker_scope).
                    urls.worker_role,
                    "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS NOINHERIT",
                    urls.worker.password,
                ),
            ):
                exists = conn.execute(
                    text("select 1 from pg_roles where rolname = :r"), {"r": role}
                ).scalar()
                if exists:
                    # Attributes are re-asserted; the password is not: another data
                    # folder (another machine, a wiped .tenantry) must never reset the
                    # passwords that running app processes use.
                    conn.execute(text(f"ALTER ROLE {_ident(role)} LOGIN {attrs}"))
                    continue
                # Role passwords cannot be bound parameters; they are our own random
                # tokens (urlsafe alphabet), checked before being quoted.
                assert pw and re.fullmatch(r"[A-Za-z0-9_\-]+", pw)
                conn.execute(text(f"CREATE ROLE {_ident(role)} LOGIN {attrs} PASSWORD '{pw}'"))
            exists = conn.execute(
                text("select 1 from pg_database where datname = :d"), {"d": urls.database}
            ).scalar()
            if not exists:
                conn.execute(text(f"CREATE DATABASE {db} OWNER {mig}"))
    except OperationalError as exc:
        raise DatabaseUnavailable(_one_line(exc)) from exc
    finally:
        engine.dispose()

    db_admin = create_engine(urls.admin.set(database=urls.database), isolation_level="AUTOCOMMIT")
    try:
        with db_admin.connect() as conn:
            conn.execute(text(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC"))
            # Re-asserted on every start: a database set up by an earlier version
            # granted the app TEMPORARY (temp tables, and functions in pg_temp).
            for role in (app, worker):
                conn.execute(text(f"REVOKE ALL ON DATABASE {db} FROM {role}"))
                conn.execute(text(f"GRANT CONNECT ON DATABASE {db} TO {role}"))
            conn.execute(text(f"GRANT ALL ON DATABASE {db} TO {mig}"))
            conn.execute(text(f"ALTER SCHEMA public OWNER TO {mig}"))
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {app}, {worker}"))
            _revoke_large_objects(conn)
            conn.execute(
                text(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {mig} IN SCHEMA public "
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}"
                )
            )
            conn.execute(
                text(
                    f"ALTER DEFAULT PRIVILEGES FOR ROLE {mig} IN SCHEMA public "
                    f"GRANT USAGE, SELECT ON SEQUENCES TO {app}"
                )
            )
    finally:
        db_admin.dispose()


def _revoke_large_objects(conn: Connection) -> None:
    """No role but the superuser may create, read or write large objects here.

    Revoking EXECUTE on catalog functions needs their owner (the bootstrap superuser);
    an admin connection that is not superuser (managed PostgreSQL) cannot, and then
    ``tenantry audit schema`` reports the rule instead of this failing the start."""
    functions = conn.execute(text(LARGE_OBJECT_FUNCTIONS)).scalars().all()
    try:  # the connection is in autocommit: one statement at a time
        for signature in functions:
            conn.execute(text(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC"))
    except DBAPIError as exc:
        _log.warning("large_objects_not_revoked", error=_one_line(exc))


def drop_database(urls: DatabaseUrls) -> None:
    """Drop the database and its roles (test and bench runs on a shared server)."""
    engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {_ident(urls.database)} WITH (FORCE)"))
            for role in urls.roles:
                conn.execute(text(f"DROP ROLE IF EXISTS {_ident(role)}"))
    finally:
        engine.dispose()


def _one_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    return " ".join(text_.split())

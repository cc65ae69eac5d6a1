"""Create the database and its two roles, and compute the URLs each role connects with.

* ``<db>_migrator`` owns the schema and runs Alembic. It has BYPASSRLS because
  lifecycle work (backfills, exports, purges) must see every tenant; the app never
  connects as it except inside an explicit, audited system scope.
* ``<db>_app`` is what the app serves through: owns nothing, not superuser, no
  BYPASSRLS, may only SELECT/INSERT/UPDATE/DELETE what the migrations grant.

Roles are named after the database so that several Tenantry databases (parallel
test runs, for instance) can live on one server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from tenantry.errors import DatabaseUnavailable
from tenantry.settings import Settings, load_or_create_dev_secret

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class DatabaseUrls:
    admin: URL
    migrator: URL
    app: URL
    database: str
    migrator_role: str
    app_role: str


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
    migrator_pw = load_or_create_dev_secret(settings.data_dir, f"{database}_migrator_password")
    app_pw = load_or_create_dev_secret(settings.data_dir, f"{database}_app_password")
    return DatabaseUrls(
        admin=admin,
        migrator=admin.set(username=migrator_role, password=migrator_pw, database=database),
        app=admin.set(username=app_role, password=app_pw, database=database),
        database=database,
        migrator_role=migrator_role,
        app_role=app_role,
    )


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unsafe identifier {name!r}")
    return f'"{name}"'


def ensure_database(urls: DatabaseUrls) -> None:
    """Create roles and database if missing, and (re)apply their attributes. Idempotent."""
    engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    mig, app, db = _ident(urls.migrator_role), _ident(urls.app_role), _ident(urls.database)
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
            conn.execute(text(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {app}"))
            conn.execute(text(f"GRANT ALL ON DATABASE {db} TO {mig}"))
            conn.execute(text(f"ALTER SCHEMA public OWNER TO {mig}"))
            conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {app}"))
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


def _one_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
    return " ".join(text_.split())

"""Run Alembic migrations programmatically, as the migrator role."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from tenantry.db.bootstrap import DatabaseUrls, _one_line
from tenantry.errors import DatabaseUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(urls: DatabaseUrls, revision: str = "head") -> None:
    engine = create_engine(urls.migrator)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise DatabaseUnavailable(_one_line(exc)) from exc
    finally:
        engine.dispose()


def downgrade(urls: DatabaseUrls, revision: str) -> None:
    """Step the schema down to ``revision`` (``-1``: one step; ``base``: empty)."""
    _run(urls, lambda cfg: command.downgrade(cfg, revision))


def current_revision(urls: DatabaseUrls) -> str | None:
    """The revision the database is at (``None``: not migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(urls.migrator)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailable(_one_line(exc)) from exc
    finally:
        engine.dispose()


def revisions() -> list[tuple[str, str | None, str]]:
    """(revision, down_revision, first docstring line) from base to head."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    found = [
        (rev.revision, rev.down_revision if isinstance(rev.down_revision, str) else None,
         (rev.doc or "").strip().splitlines()[0] if rev.doc else "")
        for rev in script.walk_revisions()
    ]  # fmt: skip
    return list(reversed(found))


def _run(urls: DatabaseUrls, action: Callable[[Config], None]) -> None:
    engine = create_engine(urls.migrator)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            action(cfg)
    except OperationalError as exc:
        raise DatabaseUnavailable(_one_line(exc)) from exc
    finally:
        engine.dispose()

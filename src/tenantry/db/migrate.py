"""Run Alembic migrations programmatically, as the migrator role."""

from __future__ import annotations

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

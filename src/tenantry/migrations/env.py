"""Alembic environment: always runs as the migrator role on a connection we hand it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from tenantry.areas import load_models

config = context.config
target_metadata = load_models()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

"""Guard mode belongs to one Database: a log-mode database never relaxes another."""

import pytest
from sqlalchemy import select

from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContextMissing
from tenantry.services.models import Service


def test_log_mode_is_per_database_and_rls_still_returns_nothing(db, database_urls):
    logging_db = Database(database_urls, guard_mode="log")
    try:
        with logging_db.session() as s:
            # No context: the guard reports instead of refusing; RLS answers zero rows.
            assert s.scalars(select(Service)).all() == []
        with pytest.raises(TenantContextMissing), db.session() as s:
            s.scalars(select(Service)).all()
    finally:
        logging_db.dispose()

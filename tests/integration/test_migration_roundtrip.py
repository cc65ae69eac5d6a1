"""Every Alembic revision goes down and up again on a database that holds data.

A scratch database is migrated to head and given tenants, members, services and the
operator view's rows; then the schema walks down one revision at a time to base and
back up one at a time to head. Afterwards the schema audit is clean and the app works
on it (a tenant and its rows can be written and read again).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text

from tenantry.audit import audit_schema
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tenantry.db.migrate import current_revision, downgrade, revisions, upgrade
from tenantry.observability.models import OpsSecurityEvent
from tenantry.services.models import Service
from tenantry.settings import Settings
from tests.factories import count_rows, make_service, make_tenant
from tests.scratch import scratch_database


def _fill(urls: DatabaseUrls) -> uuid.UUID:
    db = Database(urls)
    try:
        tenant = make_tenant(db, roles=("owner", "client"))
        make_service(db, tenant.id)
        with db.app_engine.begin() as conn:
            conn.execute(
                OpsSecurityEvent.__table__.insert().values(
                    occurred_at=datetime.now(UTC), code="tenant_sig_invalid", tenant_label="x"
                )
            )
        return tenant.id
    finally:
        db.dispose()


def _tables(urls: DatabaseUrls) -> set[str]:
    engine = create_engine(urls.migrator)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.slow
def test_every_revision_downgrades_and_upgrades_on_a_database_with_data(
    settings: Settings, database_urls: DatabaseUrls
) -> None:
    chain = [rev for rev, _, _ in revisions()]
    assert len(chain) >= 5 and len(set(chain)) == len(chain)
    with scratch_database(settings, database_urls) as urls:
        upgrade(urls)
        assert current_revision(urls) == chain[-1]
        _fill(urls)
        full = _tables(urls)

        for expected in reversed([None, *chain[:-1]]):
            downgrade(urls, "-1")
            assert current_revision(urls) == expected
        assert _tables(urls) <= {"alembic_version"}

        for expected in chain:
            upgrade(urls, "+1")
            assert current_revision(urls) == expected
        assert _tables(urls) == full

        engine = create_engine(urls.migrator)
        try:
            assert audit_schema(engine) == []
            with engine.connect() as conn:
                assert conn.scalar(text("select count(*) from ops_security_events")) == 0
        finally:
            engine.dispose()
        tenant_id = _fill(urls)
        db = Database(urls)
        try:
            assert count_rows(db, tenant_id, Service) == 1
        finally:
            db.dispose()

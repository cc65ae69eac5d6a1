"""``tenantry audit schema``'s privilege rules: clean on the migrated database, and each
one fails when its privilege is put back (then the privilege is taken away again).

The grants are made with the admin connection on the test run's own database; each test
restores what it changed before it ends, so later tests see the database as migrated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from tenantry.audit import audit_schema
from tenantry.audit.privileges import auth_findings
from tenantry.db.embedded import hba_rules


@pytest.fixture(scope="module")
def admin(database_urls) -> Iterator[Connection]:
    engine = create_engine(
        database_urls.admin.set(database=database_urls.database), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        yield conn
    engine.dispose()


@pytest.fixture(scope="module")
def migrator(database_urls):
    engine = create_engine(database_urls.migrator)
    yield engine
    engine.dispose()


def rules(migrator) -> set[tuple[str, str]]:
    return {(f.table, f.rule) for f in audit_schema(migrator)}


@contextmanager
def put_back(admin: Connection, grant: str, revoke: str) -> Iterator[None]:
    admin.execute(text(grant))
    try:
        yield
    finally:
        admin.execute(text(revoke))


def test_the_migrated_database_passes_every_privilege_rule(migrator, admin, database_urls):
    assert audit_schema(migrator) == []
    assert auth_findings(admin, database_urls.roles) == []


def test_app_alembic_version_fails_when_the_app_may_delete_the_revision(
    migrator, admin, database_urls
):
    app = database_urls.app_role
    with put_back(
        admin,
        f'GRANT SELECT, DELETE ON alembic_version TO "{app}"',
        f'REVOKE ALL ON alembic_version FROM "{app}"',
    ):
        assert ("alembic_version", "app_alembic_version") in rules(migrator)
    assert ("alembic_version", "app_alembic_version") not in rules(migrator)


@pytest.mark.parametrize(
    ("change", "undo", "rule"),
    [
        (
            "ALTER TABLE procrastinate_jobs NO FORCE ROW LEVEL SECURITY",
            "ALTER TABLE procrastinate_jobs FORCE ROW LEVEL SECURITY",
            "job_queue_rls",
        ),
        (
            "ALTER TABLE procrastinate_jobs DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE procrastinate_jobs ENABLE ROW LEVEL SECURITY",
            "job_queue_rls",
        ),
        (
            "CREATE POLICY probe_all ON procrastinate_jobs FOR SELECT USING (true)",
            "DROP POLICY probe_all ON procrastinate_jobs",
            "job_queue_policy",
        ),
        (
            "CREATE POLICY probe_or ON procrastinate_jobs FOR ALL TO {app} USING "
            "((args ->> 'tenant_id') = current_setting('app.current_tenant_id', true) "
            "OR (args ->> 'tenant_id') IS NULL)",
            "DROP POLICY probe_or ON procrastinate_jobs",
            "job_queue_policy",
        ),
        (
            "GRANT TRUNCATE ON procrastinate_jobs TO {app}",
            "REVOKE TRUNCATE ON procrastinate_jobs FROM {app}",
            "job_queue_truncate",
        ),
    ],
    ids=["no-force", "disabled", "open-policy", "or-escape", "truncate"],
)
def test_job_queue_rules_fail_when_the_app_reaches_other_tenants_jobs(
    migrator, admin, database_urls, change, undo, rule
):
    app = f'"{database_urls.app_role}"'
    with put_back(admin, change.format(app=app), undo.format(app=app)):
        assert ("procrastinate_jobs", rule) in rules(migrator)
    assert audit_schema(migrator) == []


def test_worker_scope_fails_when_the_bypassrls_worker_reaches_a_tenant_table(
    migrator, admin, database_urls
):
    worker = f'"{database_urls.worker_role}"'
    with put_back(
        admin, f"GRANT SELECT ON services TO {worker}", f"REVOKE SELECT ON services FROM {worker}"
    ):
        assert ("services", "worker_scope") in rules(migrator)
    assert audit_schema(migrator) == []


@pytest.mark.parametrize("role_of", ["app_role", "worker_role"])
@pytest.mark.parametrize(
    ("grant", "revoke", "rule"),
    [
        (
            "GRANT EXECUTE ON FUNCTION lo_create(oid) TO {role}",
            "REVOKE EXECUTE ON FUNCTION lo_create(oid) FROM {role}",
            "role_large_objects",
        ),
        (
            "GRANT EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) TO PUBLIC",
            "REVOKE EXECUTE ON FUNCTION lo_from_bytea(oid, bytea) FROM PUBLIC",
            "role_large_objects",
        ),
        (
            "GRANT TEMPORARY ON DATABASE {db} TO {role}",
            "REVOKE TEMPORARY ON DATABASE {db} FROM {role}",
            "role_temp",
        ),
        (
            "GRANT CREATE ON SCHEMA public TO {role}",
            "REVOKE CREATE ON SCHEMA public FROM {role}",
            "role_create",
        ),
        (
            "GRANT CREATE ON DATABASE {db} TO {role}",
            "REVOKE CREATE ON DATABASE {db} FROM {role}",
            "role_create",
        ),
    ],
    ids=["lo_create", "lo_from_bytea-public", "temp", "create-in-public", "create-schema"],
)
def test_role_rules_fail_when_a_privilege_is_put_back(
    migrator, admin, database_urls, role_of, grant, revoke, rule
):
    role = getattr(database_urls, role_of)
    names = {"role": f'"{role}"', "db": f'"{database_urls.database}"'}
    with put_back(admin, grant.format(**names), revoke.format(**names)):
        assert (f"(role {role})", rule) in rules(migrator)
    assert audit_schema(migrator) == []


def test_role_password_unchecked_fails_when_pg_hba_trusts_a_role(admin, database_urls, settings):
    if settings.database_url:
        pytest.skip("needs the embedded server's pg_hba.conf (DATABASE_URL: the server's own)")
    hba = Path(settings.pg_dir) / "pg_hba.conf"
    original = hba.read_text()
    app = database_urls.app_role
    try:
        hba.write_text(f"local all {app} trust\n" + original)
        admin.execute(text("select pg_reload_conf()"))
        findings = auth_findings(admin, database_urls.roles)
        assert findings is not None
        assert {(f.table, f.rule) for f in findings} == {
            (f"(role {app})", "role_password_unchecked")
        }
    finally:
        hba.write_text(original)
        admin.execute(text("select pg_reload_conf()"))
    assert auth_findings(admin, database_urls.roles) == []
    assert original == hba_rules()

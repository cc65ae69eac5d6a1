"""`tenantry audit schema` against real catalogues: the migrated test database is clean,
and a scratch database with deliberately broken isolation fails, naming table and rule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tenantry.audit import audit_app, audit_schema, strict_tenant_problem
from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.db.migrate import upgrade
from tenantry.isolation.rls import strict_policy_sql
from tenantry.settings import Settings, get_settings, set_settings

# Well-formed tenant tables (parent, child with a composite FK, notes), so the breakage
# below does not depend on which business tables exist today.
PROBE_TABLES = [
    """create table probe_parents (
         tenant_id uuid not null references tenants(id) on delete cascade,
         id uuid not null default gen_random_uuid(),
         slug text not null,
         constraint pk_probe_parents primary key (tenant_id, id),
         constraint uq_probe_parents_tenant_id_slug unique (tenant_id, slug))""",
    """create table probe_children (
         tenant_id uuid not null references tenants(id) on delete cascade,
         id uuid not null default gen_random_uuid(),
         parent_id uuid not null,
         constraint pk_probe_children primary key (tenant_id, id),
         constraint fk_probe_children_parent foreign key (tenant_id, parent_id)
           references probe_parents (tenant_id, id) on delete cascade)""",
    """create table probe_notes (
         tenant_id uuid not null references tenants(id) on delete cascade,
         id uuid not null default gen_random_uuid(),
         body text not null,
         constraint pk_probe_notes primary key (tenant_id, id))""",
]

EXTRA_READ_POLICY = (
    "create policy client_reads_own on probe_children for select using ("
    " tenant_id = nullif(current_setting('app.current_tenant_id', true), '')::uuid"
    " and parent_id = nullif(current_setting('app.current_user_id', true), '')::uuid)"
)

BREAKAGE = [
    # one policy
    "drop policy tenant_isolation on tenant_memberships",
    # one NOT NULL (the PK must stop including tenant_id before it can go)
    "alter table probe_notes drop constraint pk_probe_notes",
    "alter table probe_notes add constraint pk_probe_notes primary key (id)",
    "alter table probe_notes alter column tenant_id drop not null",
    # one composite key replaced by a tenant-less one
    "alter table probe_parents drop constraint uq_probe_parents_tenant_id_slug",
    "alter table probe_parents add constraint uq_probe_parents_slug unique (slug)",
    # a composite FK replaced by a tenant-less one (needs a tenant-less unique too)
    "alter table probe_parents add constraint uq_probe_parents_id unique (id)",
    "alter table probe_children drop constraint fk_probe_children_parent",
    "alter table probe_children add constraint fk_probe_children_parent_id"
    " foreign key (parent_id) references probe_parents (id)",
    # a write policy that is OR-ed with the strict one
    "create policy anyone_may_update on probe_children for update using (true)",
    # a loosened tenant policy (the classic "unset tenant sees everything")
    "alter policy tenant_isolation on probe_parents using (tenant_id ="
    " nullif(current_setting('app.current_tenant_id', true), '')::uuid"
    " or current_setting('app.current_tenant_id', true) is null)",
    # a table that picked no side
    "create table probe_orphans (id uuid primary key)",
    # a plain view runs as its owner, who has BYPASSRLS
    "create view probe_all_notes as select * from probe_notes",
]

EXPECTED = {
    ("tenant_memberships", "tenant_policy_missing"),
    ("probe_notes", "tenant_id_not_null"),
    ("probe_notes", "pk_includes_tenant"),
    ("probe_parents", "unique_includes_tenant"),
    ("probe_parents", "tenant_policy_not_strict"),
    ("probe_children", "composite_fk"),
    ("probe_children", "extra_permissive_policy"),
    ("probe_orphans", "undeclared_table"),
    ("probe_all_notes", "view_security_invoker"),
}


@pytest.fixture(scope="module")
def scratch_urls(database_urls: DatabaseUrls, settings: Settings) -> Iterator[DatabaseUrls]:
    """A second migrated database (and its own two roles) on the same server."""
    name = "tenantry_audit_" + uuid.uuid4().hex[:8]
    urls = resolve_urls(settings.model_copy(update={"database_name": name}), database_urls.admin)
    try:
        ensure_database(urls)
        upgrade(urls)
        yield urls
    finally:
        admin = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{urls.database}" WITH (FORCE)'))
            for role in urls.roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def _run_cli(settings: Settings, *args: str) -> tuple[int, str]:
    previous = get_settings()
    set_settings(settings)
    try:
        result = CliRunner().invoke(audit_app, ["schema", *args])
    finally:
        set_settings(previous)
    return result.exit_code, result.output


def test_migrated_database_passes_the_audit(database_urls):
    engine = create_engine(database_urls.migrator)
    try:
        assert audit_schema(engine) == []
    finally:
        engine.dispose()


def test_cli_exits_zero_and_says_clean_on_the_migrated_database(database_urls, settings):
    code, output = _run_cli(settings)
    assert code == 0, output
    assert "clean" in output


def test_tenantry_cli_registers_audit_schema(database_urls, settings):
    from tenantry.ops.cli import app

    previous = get_settings()
    set_settings(settings)
    try:
        result = CliRunner().invoke(app, ["audit", "schema", "--json"])
    finally:
        set_settings(previous)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {k: report[k] for k in ("database", "ok", "findings")} == {
        "database": database_urls.database,
        "ok": True,
        "findings": [],
    }
    # The privilege rules are reported as checked (and the password rule is checked).
    assert report["notes"] == [
        "privilege rules: app_alembic_version, job_queue_rls, job_queue_policy, "
        "job_queue_truncate, worker_scope, role_large_objects, role_temp, role_create, "
        "role_password_unchecked"
    ]


def test_broken_isolation_is_reported_table_by_table(scratch_urls, settings):
    engine = create_engine(scratch_urls.migrator)
    try:
        with engine.begin() as conn:
            for ddl in PROBE_TABLES:
                conn.execute(text(ddl))
            for table in ("probe_parents", "probe_children", "probe_notes"):
                for statement in strict_policy_sql(table):
                    conn.execute(text(statement))
            # An extra read policy narrower than the tenant policy is allowed.
            conn.execute(text(EXTRA_READ_POLICY))
        # The probes are well-formed: the audit has nothing to say yet.
        assert audit_schema(engine) == []

        with engine.begin() as conn:
            for ddl in BREAKAGE:
                conn.execute(text(ddl))
        findings = audit_schema(engine)
    finally:
        engine.dispose()

    found = {(f.table, f.rule) for f in findings}
    assert found >= EXPECTED, sorted(EXPECTED - found)
    # Nothing is reported against tables nobody touched.
    assert {f.table for f in findings} <= {t for t, _ in EXPECTED}

    scratch_settings = settings.model_copy(update={"database_name": scratch_urls.database})
    code, output = _run_cli(scratch_settings, "--json")
    assert code == 1, output
    report = json.loads(output)
    assert report["ok"] is False
    assert {(f["table"], f["rule"]) for f in report["findings"]} == found

    code, output = _run_cli(scratch_settings)
    assert code == 1
    for table, rule in EXPECTED:
        assert any(table in line and rule in line for line in output.splitlines()), (table, rule)


@pytest.mark.parametrize(
    "expression",
    [
        "(tenant_id = (NULLIF(current_setting('app.current_tenant_id'::text, true),"
        " ''::text))::uuid)",
        "((current_setting('app.current_tenant_id'::text))::uuid = tenant_id)",
    ],
)
def test_strict_policy_expressions_pass(expression):
    assert strict_tenant_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("true", "does not read"),
        (
            "(tenant_id = (current_setting('app.current_tenant_id'::text))::uuid "
            "OR (current_setting('app.current_tenant_id'::text, true) IS NULL))",
            "OR",
        ),
        (
            "(tenant_id = COALESCE((current_setting('app.current_tenant_id'::text))::uuid,"
            " tenant_id))",
            "COALESCE",
        ),
        ("(tenant_id <> (current_setting('app.current_tenant_id'::text))::uuid)", "<>"),
        (
            "(tenant_id IN ( SELECT t.id FROM tenants t WHERE t.slug = "
            "current_setting('app.current_tenant_id'::text)))",
            "subquery",
        ),
        (
            "((current_setting('app.current_tenant_id'::text) IS NOT NULL) AND "
            "(tenant_id = tenant_id))",
            "IS NULL",
        ),
        (
            "(user_id = (current_setting('app.current_tenant_id'::text))::uuid)",
            "does not compare tenant_id",
        ),
    ],
)
def test_loose_policy_expressions_are_named(expression, problem):
    found = strict_tenant_problem(expression)
    assert found is not None and problem in found

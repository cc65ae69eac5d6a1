"""`tenantry audit schema --citus`: the migrated schema meets Citus's rules, and the rules
catch what Citus would refuse — each breakage is made inside a transaction that is
rolled back, so no other test ever sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tenantry.audit import audit_app
from tenantry.audit.citus import citus_findings, citus_plan
from tenantry.settings import get_settings, set_settings

PROBE = """create table citus_probe (
     tenant_id uuid not null references tenants(id) on delete cascade,
     id uuid not null default gen_random_uuid(),
     code text not null,
     constraint pk_citus_probe primary key (tenant_id, id))"""


@pytest.fixture
def migrator(database_urls):
    engine = create_engine(database_urls.migrator)
    yield engine
    engine.dispose()


def _findings_after(engine, *statements: str) -> set[tuple[str, str]]:
    with engine.connect() as conn, conn.begin() as tx:
        for statement in statements:
            conn.execute(text(statement))
        found = {(f.table, f.rule) for f in citus_findings(conn)}
        tx.rollback()
    return found


def test_the_migrated_schema_meets_the_citus_rules(migrator):
    assert citus_findings(migrator) == []
    with migrator.connect() as conn:
        plan = citus_plan(conn)
    assert {"tenants", "users"} <= set(plan["reference"])
    assert "bookings" in plan["distributed"] and "tenant_memberships" in plan["distributed"]
    assert "alembic_version" in plan["local"]


def test_a_unique_constraint_without_tenant_id_is_caught(migrator):
    found = _findings_after(
        migrator, PROBE, "alter table citus_probe add constraint uq_citus_probe_code unique (code)"
    )
    assert found == {("citus_probe", "citus_unique_without_distribution_column")}


def test_keys_citus_refuses_are_caught(migrator):
    found = _findings_after(
        migrator,
        PROBE,
        # SET NULL on a tenant-led key, even limited to the link column
        "alter table citus_probe add column booking_id uuid",
        "alter table citus_probe add constraint fk_citus_probe_booking foreign key"
        " (tenant_id, booking_id) references bookings (tenant_id, id)"
        " on delete set null (booking_id)",
        # a global table pointing into a distributed one
        "alter table users add column probe_booking uuid",
        "alter table users add column probe_tenant uuid",
        "alter table users add constraint fk_users_probe foreign key (probe_tenant,"
        " probe_booking) references bookings (tenant_id, id)",
        # a key between tenant tables that does not pair tenant_id with tenant_id
        "alter table citus_probe add constraint uq_citus_probe_tenant_code unique"
        " (tenant_id, code)",
        "alter table citus_probe add column other_tenant uuid",
        "alter table citus_probe add constraint fk_citus_probe_self_cross foreign key"
        " (other_tenant, code) references citus_probe (tenant_id, code)",
        # a trigger
        "create function citus_probe_touch() returns trigger language plpgsql as"
        " $$ begin return new; end $$",
        "create trigger citus_probe_touch before insert on citus_probe for each row"
        " execute function citus_probe_touch()",
    )
    assert found == {
        ("citus_probe", "citus_fk_action"),
        ("users", "citus_fk_to_distributed"),
        ("citus_probe", "citus_trigger"),
        ("citus_probe", "citus_fk_not_colocated"),
    }, found


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        pytest.param(
            (
                "alter table citus_probe enable row level security",
                "create policy citus_probe_sub on citus_probe using"
                " (exists (select 1 from tenants t where t.id = tenant_id))",
            ),
            {("citus_probe", "citus_policy_subquery")},
            id="a policy with a subquery",
        ),
        pytest.param(
            (
                "create function citus_probe_code() returns text language sql as $$ select 'x' $$",
                "alter table citus_probe alter column code set default citus_probe_code()",
            ),
            {("citus_probe", "citus_user_function")},
            id="a default that calls a function of ours",
        ),
        pytest.param(
            ("alter table citus_probe add column n serial",),
            {("citus_probe", "citus_sequence_type")},
            id="an int sequence default",
        ),
        pytest.param(
            (
                "create table citus_probe_generated (tenant_id uuid generated always as"
                " ('00000000-0000-0000-0000-000000000000'::uuid) stored,"
                " id uuid not null, primary key (tenant_id, id))",
            ),
            {("citus_probe_generated", "citus_distribution_column")},
            id="a generated tenant_id",
        ),
    ],
)
def test_objects_citus_refuses_on_a_distributed_table_are_caught(migrator, statements, expected):
    assert _findings_after(migrator, PROBE, *statements) == expected


def test_a_bigint_sequence_default_is_not_refused(migrator):
    assert (
        _findings_after(migrator, PROBE, "alter table citus_probe add column n bigserial") == set()
    )


def test_cli_runs_the_citus_rules(database_urls, settings):
    previous = get_settings()
    set_settings(settings)
    try:
        result = CliRunner().invoke(audit_app, ["schema", "--citus"])
    finally:
        set_settings(previous)
    assert result.exit_code == 0, result.output
    assert "with the Citus rules" in result.output

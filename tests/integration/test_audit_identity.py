"""The identity rules of ``tenantry audit schema``: clean on the migrated database, and
each one fails when the privilege it guards is put back.

Every breakage runs as the migrator (the owner) inside a transaction that is rolled
back, so the shared test database is never left changed; the audit reads the catalogue
through that same transaction.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tenantry.audit import audit_schema
from tenantry.isolation.rls import TENANT_SETTING, USER_SETTING

APP = "current_database() || '_app'"


def as_app(sql: str) -> str:
    return f"DO $$ BEGIN EXECUTE format('{sql}', {APP}); END $$"


PUT_BACK = {
    "password hash readable": (
        [as_app("GRANT SELECT (password_hash) ON users TO %I")],
        {("users", "password_hash_readable")},
    ),
    "whole table readable": (
        [as_app("GRANT SELECT ON users TO %I")],
        {("users", "password_hash_readable")},
    ),
    "is_superadmin writable": (
        [as_app("GRANT UPDATE (is_superadmin) ON users TO %I")],
        {("users", "platform_column_writable")},
    ),
    "is_superadmin insertable": (
        [as_app("GRANT INSERT (is_superadmin) ON users TO %I")],
        {("users", "platform_column_writable")},
    ),
    "email writable": (
        [as_app("GRANT UPDATE (email) ON users TO %I")],
        {("users", "platform_column_writable")},
    ),
    "users deletable": (
        [as_app("GRANT DELETE ON users TO %I")],
        {("users", "platform_column_writable")},
    ),
    "users without RLS": (
        ["ALTER TABLE users DISABLE ROW LEVEL SECURITY"],
        {("users", "users_rls")},
    ),
    "every user readable": (
        ["CREATE POLICY everyone ON users FOR SELECT USING (true)"],
        {("users", "users_rls")},
    ),
    "other users writable": (
        [f"CREATE POLICY members_write ON users FOR UPDATE USING (id <> {USER_SETTING})"],
        {("users", "users_rls")},
    ),
    "member_self_read OR-ed while pinned (as before)": (
        [
            "DROP POLICY member_self_read ON tenant_memberships",
            "CREATE POLICY member_self_read ON tenant_memberships FOR SELECT "
            f"USING (user_id = {USER_SETTING})",
        ],
        {("tenant_memberships", "read_policy_crosses_tenants")},
    ),
    "sessions of everyone": (
        ["CREATE POLICY all_sessions ON user_sessions FOR SELECT USING (true)"],
        {("user_sessions", "user_table_rls")},
    ),
    "tokens without forced RLS": (
        ["ALTER TABLE account_tokens NO FORCE ROW LEVEL SECURITY"],
        {("account_tokens", "user_table_rls")},
    ),
    "definer function with a free search_path": (
        ["ALTER FUNCTION account_lookup(text) RESET search_path"],
        {("(function account_lookup(text))", "definer_function")},
    ),
    "definer function for everyone": (
        ["GRANT EXECUTE ON FUNCTION account_password_matches(uuid, text) TO PUBLIC"],
        {("(function account_password_matches(uuid,text))", "definer_function")},
    ),
}


@pytest.fixture(scope="module")
def migrator(database_urls):
    engine = create_engine(database_urls.migrator)
    yield engine
    engine.dispose()


def test_the_migrated_database_has_no_identity_finding(migrator):
    assert audit_schema(migrator) == []


@pytest.mark.parametrize("name", list(PUT_BACK))
def test_each_identity_rule_fails_when_its_privilege_is_put_back(migrator, name):
    statements, expected = PUT_BACK[name]
    with migrator.connect() as conn:
        transaction = conn.begin()
        try:
            for statement in statements:
                conn.execute(text(statement))
            found = {(f.table, f.rule) for f in audit_schema(conn)}
        finally:
            transaction.rollback()
    assert found == expected, found
    assert audit_schema(migrator) == []  # rolled back: clean again


def test_a_read_policy_bounded_to_the_pinned_tenant_or_to_no_tenant_passes(migrator):
    with migrator.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(
                text(
                    "CREATE POLICY own_reads ON invitations FOR SELECT USING ("
                    f"tenant_id = {TENANT_SETTING} AND invited_by_id = {USER_SETTING})"
                )
            )
            conn.execute(
                text(
                    "CREATE POLICY unpinned_reads ON invitations FOR SELECT USING ("
                    f"invited_by_id = {USER_SETTING} AND {TENANT_SETTING} IS NULL)"
                )
            )
            found = audit_schema(conn)
        finally:
            transaction.rollback()
    assert found == []

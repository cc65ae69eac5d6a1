"""The legacy toolkit's rules cover every tenant table; SQL files split the way PostgreSQL does."""

from __future__ import annotations

import pytest

from tenantry.areas import tenant_owned_tables
from tenantry.legacy.catalogue import Column, Constraint, Snapshot, Table
from tenantry.legacy.rules import DERIVATIONS, RuleError, table_rules
from tenantry.legacy.sqlfile import SqlFileError, split_statements


def test_every_tenant_table_of_the_models_has_a_derivation_rule():
    # A new tenant table without a rule makes backfill and tighten refuse; this test
    # says so at once: add it to DERIVATIONS (tenantry/legacy/rules.py).
    assert set(tenant_owned_tables()) == set(DERIVATIONS)


def _table(*columns: str) -> Table:
    return Table("{migrator}", True, True, {c: Column("uuid", True, None) for c in columns})


def test_a_tenant_table_without_a_rule_is_refused_not_skipped():
    snap = Snapshot(
        {"services": _table("tenant_id", "id"), "gadgets": _table("tenant_id", "id")},
        {},
        {},
        {},
        {},
    )
    with pytest.raises(RuleError, match=r"no derivation rule for tenant table.*gadgets"):
        table_rules(snap)


def test_relations_come_from_the_composite_foreign_keys():
    fk = Constraint(
        "expenses",
        "fk_expenses_user_id",
        "f",
        "FOREIGN KEY (tenant_id, user_id) REFERENCES tenant_memberships(tenant_id, user_id)",
        True,
        None,
    )
    snap = Snapshot(
        {"expenses": _table("tenant_id", "id", "user_id")}, {("expenses", fk.name): fk}, {}, {}, {}
    )
    (rule,) = table_rules(snap)
    assert [(r.column, r.parent, r.is_user) for r in rule.sources] == [("user_id", "users", True)]


SOURCE = """-- a migration written by hand
CREATE TABLE t (id int);  -- trailing comment; with a semicolon
/* a block comment; also with one */
CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $body$
BEGIN
  RETURN 'a;b' || $$;$$;  -- semicolons inside strings and dollar quotes
END
$body$;
INSERT INTO t VALUES (1);
"""


def test_statements_are_split_by_the_postgresql_parser_with_their_lines():
    statements = split_statements(SOURCE)
    assert [(s.number, s.line) for s in statements] == [(1, 2), (2, 4), (3, 9)]
    assert statements[1].text.startswith("CREATE FUNCTION f()")
    assert "RETURN 'a;b' || $$;$$;" in statements[1].text
    assert statements[2].text == "INSERT INTO t VALUES (1)"


def test_a_syntax_error_names_its_line_and_transaction_control_is_refused():
    with pytest.raises(SqlFileError, match="syntax error at line 3"):
        split_statements("SELECT 1;\n\nSELEC 2;\n")
    with pytest.raises(SqlFileError, match="statement 2 at line 2 controls the transaction"):
        split_statements("SELECT 1;\nCOMMIT;\n")

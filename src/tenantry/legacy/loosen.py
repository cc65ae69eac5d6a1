"""Turn a migrated (isolated) schema back into the legacy shape — for ``init-demo``.

Derived from the live catalogue, not from a list: whatever the migrations create is
loosened the same way. Policies and RLS go; every composite key and foreign key loses
``tenant_id`` (``(tenant_id, x) -> p(tenant_id, id)`` becomes ``x -> p(id)``, a member
reference ``x -> users(id)``); ``tenant_id`` becomes nullable with no foreign key and
no index; a legacy ``users.tenant_id`` appears; Alembic's table goes.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from tenantry.legacy.catalogue import Snapshot
from tenantry.legacy.rules import MEMBERSHIPS, relations
from tenantry.legacy.tighten import q

_ON_DELETE = re.compile(r"ON DELETE (CASCADE|SET NULL|SET DEFAULT|RESTRICT)")


def loosen_keys(conn: psycopg.Connection[Any], snap: Snapshot) -> None:
    """Everything but the foreign keys (added back by ``add_legacy_foreign_keys``)."""
    for table, name in snap.policies:
        conn.execute(f"DROP POLICY {q(name)} ON {q(table)}".encode())
    tenant_tables = [t for t in snap.tenant_tables() if t != MEMBERSHIPS]
    for table in snap.tenant_tables():
        conn.execute(
            f"ALTER TABLE {q(table)} NO FORCE ROW LEVEL SECURITY, "
            f"DISABLE ROW LEVEL SECURITY".encode()
        )
    for (table, name), con in snap.constraints.items():
        if con.kind == "f" and table in tenant_tables:
            conn.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}".encode())
    for (table, name), con in snap.constraints.items():
        if table not in tenant_tables:
            continue
        if con.kind == "p":
            conn.execute(
                f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}, "
                f"ADD CONSTRAINT {q(name)} PRIMARY KEY (id)".encode()
            )
        elif con.kind == "u" and con.definition != "UNIQUE (tenant_id)":
            conn.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}".encode())
    for name, index in snap.indexes.items():
        if (
            index.table in tenant_tables
            and index.constraint is None
            and "(tenant_id" in (index.definition)
        ):
            conn.execute(f"DROP INDEX {q(name)}".encode())
    for table in tenant_tables:
        conn.execute(f"ALTER TABLE {q(table)} ALTER COLUMN tenant_id DROP NOT NULL".encode())
    conn.execute("ALTER TABLE users ADD COLUMN tenant_id uuid")
    conn.execute("DROP TABLE IF EXISTS alembic_version")


def global_uniques(conn: psycopg.Connection[Any], snap: Snapshot) -> list[str]:
    """The target's (tenant_id, x...) uniques as global (x...) ones where the data allows."""
    made = []
    for (table, name), con in snap.constraints.items():
        m = re.fullmatch(r"UNIQUE \(tenant_id, (.+)\)", con.definition)
        if con.kind != "u" or m is None or table == MEMBERSHIPS:
            continue
        legacy = f"{name.replace('tenant_id_', '')}_global"[:63]
        try:
            with conn.transaction():
                conn.execute(f"CREATE UNIQUE INDEX {q(legacy)} ON {q(table)} ({m[1]})".encode())
            made.append(legacy)
        except psycopg.errors.UniqueViolation:
            pass  # this legacy database simply had no unique there
    return made


def add_legacy_foreign_keys(conn: psycopg.Connection[Any], snap: Snapshot) -> None:
    for table in snap.tenant_tables():
        if table == MEMBERSHIPS:
            continue
        for rel in relations(snap, table):
            con = next(
                c
                for (t, _), c in snap.constraints.items()
                if t == table and c.kind == "f" and f"(tenant_id, {rel.column})" in c.definition
            )
            action = _ON_DELETE.search(con.definition)
            on_delete = f" ON DELETE {action[1]}" if action else ""
            parent = "users" if rel.is_user else rel.parent
            name = f"fk_{table}_{rel.column}_{parent}_legacy"[:63]
            conn.execute(
                f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} FOREIGN KEY "
                f"({q(rel.column)}) REFERENCES {q(parent)}(id){on_delete}".encode()
            )

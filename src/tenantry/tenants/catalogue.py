"""Which tables hold a tenant's rows, read from the live catalogue (not a list).

Export, purge and restore walk ``tenant_tables()``: every table of schema ``public``
with a ``tenant_id`` column, so a table added by a later migration is covered the
day it exists. From the catalogue also come each table's key (row order in the
archive), the columns that hold a user id (remapped on restore), and the order
between tables (parents before children; purge walks it backwards).

What the catalogue cannot tell — a column whose TEXT embeds the tenant id, such as
an attachment's storage key ``<tenant id>/<name>`` — is declared in
``TENANT_PREFIXED_COLUMNS``; ``tests/integration/lifecycle`` scans every column of a
fully populated tenant for its id and fails on any column not declared here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

TENANT_COLUMN = "tenant_id"

# (table, column): text values that start with "<tenant id>/".
TENANT_PREFIXED_COLUMNS: frozenset[tuple[str, str]] = frozenset({("attachments", "storage_key")})


@dataclass(frozen=True)
class TenantTable:
    name: str
    columns: tuple[str, ...]  # in table order
    generated: tuple[str, ...]  # computed by the database: exported, never inserted
    key: tuple[str, ...]  # primary key: the archive's row order
    user_columns: tuple[str, ...]  # hold a users.id (directly or via a membership)
    parents: frozenset[str] = field(default_factory=frozenset)  # other tenant tables

    @property
    def insert_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.generated)

    @property
    def prefixed_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if (self.name, c) in TENANT_PREFIXED_COLUMNS)

    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.name)


_TABLES_SQL = """
select c.oid, c.relname,
       array(select a.attname::text from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
             order by a.attnum) as columns,
       array(select a.attname::text from pg_attribute a
             where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
               and (a.attgenerated <> '' or a.attidentity = 'a')) as generated,
       array(select a.attname::text
             from pg_constraint p, unnest(p.conkey) with ordinality k(attnum, n)
             join pg_attribute a on a.attnum = k.attnum
             where p.conrelid = c.oid and p.contype = 'p' and a.attrelid = c.oid
             order by k.n) as key
from pg_class c
join pg_namespace ns on ns.oid = c.relnamespace
where ns.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
  and exists (select 1 from pg_attribute a where a.attrelid = c.oid
              and a.attname = %s and not a.attisdropped)
order by c.relname
"""

# Every foreign key of those tables: its columns and what they point at.
_FKS_SQL = """
select src.relname as source, dst.relname as target,
       array(select a.attname::text from unnest(f.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.n
             order by k.i) as columns,
       array(select a.attname::text from unnest(f.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.n
             order by k.i) as target_columns
from pg_constraint f
join pg_class src on src.oid = f.conrelid
join pg_class dst on dst.oid = f.confrelid
join pg_namespace ns on ns.oid = src.relnamespace
where f.contype = 'f' and ns.nspname = 'public'
"""


class CatalogueError(RuntimeError):
    """The tenant tables cannot be ordered (a foreign-key cycle between them)."""


def tenant_tables(conn: psycopg.Connection) -> list[TenantTable]:
    """Every tenant-owned table, parents before children."""
    rows = conn.execute(_TABLES_SQL, (TENANT_COLUMN,)).fetchall()
    names = {r[1] for r in rows}
    users: dict[str, set[str]] = {n: set() for n in names}
    parents: dict[str, set[str]] = {n: set() for n in names}
    for source, target, columns, target_columns in conn.execute(_FKS_SQL).fetchall():
        if source not in names:
            continue
        if target == "users":
            users[source].update(columns)
        elif target == "tenant_memberships" and "user_id" in target_columns:
            users[source].add(columns[target_columns.index("user_id")])
        if target in names and target != source:
            parents[source].add(target)
    tables = {
        name: TenantTable(
            name=name,
            columns=tuple(columns),
            generated=tuple(generated),
            key=tuple(key) or tuple(columns),
            user_columns=tuple(c for c in columns if c in users[name]),
            parents=frozenset(parents[name]),
        )
        for _, name, columns, generated, key in rows
    }
    return _parents_first(tables)


def row_counts(
    conn: psycopg.Connection, tables: Iterable[TenantTable], tenant_id: uuid.UUID
) -> dict[str, int]:
    """How many rows of ``tenant_id`` each of ``tables`` holds (in their order)."""
    counts = {}
    for table in tables:
        query = sql.SQL("select count(*) from {} where tenant_id = %s").format(table.ident())
        counts[table.name] = int(conn.execute(query, (tenant_id,)).fetchone()[0])  # type: ignore[index]
    return counts


def _parents_first(tables: dict[str, TenantTable]) -> list[TenantTable]:
    ordered: list[TenantTable] = []
    done: set[str] = set()
    pending = sorted(tables)
    while pending:
        ready = [n for n in pending if tables[n].parents <= done]
        if not ready:
            raise CatalogueError(f"foreign-key cycle between tenant tables: {pending}")
        for name in ready:
            ordered.append(tables[name])
            done.add(name)
        pending = [n for n in pending if n not in done]
    return ordered

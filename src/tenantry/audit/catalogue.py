"""Reading the live catalogue (``pg_catalog``, schema ``public``) into plain records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, text

TENANT_COLUMN = "tenant_id"
_R = TypeVar("_R")


@dataclass
class _Relation:
    oid: int
    name: str
    kind: str  # r table, p partitioned, v view, m matview, f foreign
    rls_enabled: bool
    rls_forced: bool
    options: list[str]
    tenant_attnum: int | None
    tenant_not_null: bool
    app_may_truncate: bool
    columns: dict[int, str] = field(default_factory=dict)

    @property
    def tenant_owned(self) -> bool:
        return self.tenant_attnum is not None


@dataclass(frozen=True)
class _Constraint:
    name: str
    kind: str  # p, u, f
    table_oid: int
    columns: tuple[int, ...]
    ref_oid: int | None
    ref_columns: tuple[int, ...]
    on_delete: str


@dataclass(frozen=True)
class _Index:
    name: str
    table_oid: int
    keys: tuple[int, ...]  # 0 = expression
    unique: bool
    primary: bool
    partial: bool
    valid: bool


@dataclass(frozen=True)
class _Policy:
    table: str
    name: str
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool
    using: str | None
    check: str | None


@dataclass
class _Catalogue:
    relations: dict[int, _Relation]
    constraints: list[_Constraint]
    indexes: list[_Index]
    policies: list[_Policy]
    app_role: str
    app_role_row: Any


_RELATIONS_SQL = """
select c.oid, c.relname, c.relkind::text as relkind, c.relrowsecurity, c.relforcerowsecurity,
       coalesce(c.reloptions, '{}') as reloptions,
       a.attnum as tenant_attnum,
       coalesce(a.attnotnull, false)
         -- PostgreSQL 18 can hold a NOT NULL constraint NOT VALID: not a guarantee yet
         and not exists (select 1 from pg_constraint n
                          where n.conrelid = c.oid and n.contype = 'n'
                            and n.conkey = array[a.attnum] and not n.convalidated)
         as tenant_not_null,
       case when r.oid is null then false
            else has_table_privilege(r.oid, c.oid, 'TRUNCATE') end as app_may_truncate
from pg_class c
join pg_namespace ns on ns.oid = c.relnamespace
left join pg_attribute a
       on a.attrelid = c.oid and a.attname = :tenant_column and not a.attisdropped
left join pg_roles r on r.rolname = :app_role
where ns.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
order by c.relname
"""

_COLUMNS_SQL = """
select a.attrelid, a.attnum, a.attname
from pg_attribute a join pg_class c on c.oid = a.attrelid
join pg_namespace ns on ns.oid = c.relnamespace
where ns.nspname = 'public' and a.attnum > 0 and not a.attisdropped
"""

# The queries below name their columns after the fields of the record they fill.
_CONSTRAINTS_SQL = """
select con.conname as name, con.contype::text as kind, con.conrelid as table_oid,
       coalesce(con.conkey, '{}') as columns, nullif(con.confrelid, 0) as ref_oid,
       coalesce(con.confkey, '{}') as ref_columns, con.confdeltype::text as on_delete
from pg_constraint con
join pg_namespace ns on ns.oid = con.connamespace
where ns.nspname = 'public' and con.contype in ('p', 'u', 'f')
order by con.conname
"""

_INDEXES_SQL = """
select ic.relname as name, i.indrelid as table_oid, i.indkey::int2[] as keys,
       i.indisunique as "unique", i.indisprimary as "primary",
       i.indpred is not null as partial, i.indisvalid as valid
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_namespace ns on ns.oid = ic.relnamespace
where ns.nspname = 'public'
order by ic.relname
"""

_POLICIES_SQL = """
select tablename as "table", policyname as name, cmd as command,
       permissive = 'PERMISSIVE' as permissive, qual as "using", with_check as "check"
from pg_policies where schemaname = 'public'
order by tablename, policyname
"""

_APP_ROLE_SQL = """
select r.rolname, r.rolsuper, r.rolbypassrls,
       array(select c.relname::text from pg_class c
             join pg_namespace ns on ns.oid = c.relnamespace
             where ns.nspname = 'public' and c.relowner = r.oid
             order by c.relname) as owns
from pg_roles r where r.rolname = :app_role
"""


def _read_catalogue(conn: Connection) -> _Catalogue:
    database = conn.execute(text("select current_database()")).scalar_one()
    app_role = f"{database}_app"
    relations: dict[int, _Relation] = {}
    for row in conn.execute(
        text(_RELATIONS_SQL), {"tenant_column": TENANT_COLUMN, "app_role": app_role}
    ):
        relations[row.oid] = _Relation(
            oid=row.oid,
            name=row.relname,
            kind=row.relkind,
            rls_enabled=row.relrowsecurity,
            rls_forced=row.relforcerowsecurity,
            options=list(row.reloptions),
            tenant_attnum=row.tenant_attnum,
            tenant_not_null=row.tenant_not_null,
            app_may_truncate=row.app_may_truncate,
        )
    for attrelid, attnum, attname in conn.execute(text(_COLUMNS_SQL)):
        if attrelid in relations:
            relations[attrelid].columns[attnum] = attname
    app_role_row = conn.execute(text(_APP_ROLE_SQL), {"app_role": app_role}).one_or_none()
    return _Catalogue(
        relations,
        _records(conn, _CONSTRAINTS_SQL, _Constraint),
        _records(conn, _INDEXES_SQL, _Index),
        _records(conn, _POLICIES_SQL, _Policy),
        app_role,
        app_role_row,
    )


def _records(conn: Connection, sql: str, record: type[_R]) -> list[_R]:
    """Each row of ``sql`` as a ``record`` (the query names its columns after the
    record's fields; arrays become tuples)."""
    return [
        record(**{k: tuple(v) if isinstance(v, list) else v for k, v in row._mapping.items()})
        for row in conn.execute(text(sql))
    ]

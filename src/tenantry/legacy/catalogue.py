"""A comparable snapshot of schema ``public``: tables, columns, keys, indexes, policies, grants.

Tighten compares the legacy database with a *reference* database that ``tenantry
migrate`` built a moment ago (see ``reference``), so "the target schema" is whatever the
migrations at head create — never a hand-kept copy that drifts when a migration lands.

Role names differ between the two databases (``<db>_app``), so they are written here
as ``{app}`` / ``{migrator}`` / ``{worker}``; everything else is PostgreSQL's own deparsed text
(``pg_get_constraintdef``, ``pg_get_indexdef``, ``pg_get_expr``), which is stable for
identical definitions.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

# Tables the toolkit ignores when comparing: Alembic's own (tighten stamps it).
IGNORED_TABLES = frozenset({"alembic_version"})
TENANT_COLUMN = "tenant_id"


@dataclass
class Column:
    type: str
    notnull: bool
    default: str | None


@dataclass
class Table:
    owner: str
    rls: bool
    force_rls: bool
    columns: dict[str, Column] = field(default_factory=dict)
    # grantee ("{app}", "PUBLIC") -> sorted privilege names; the owner is left out
    grants: dict[str, list[str]] = field(default_factory=dict)

    @property
    def tenant_owned(self) -> bool:
        return TENANT_COLUMN in self.columns


@dataclass
class Constraint:
    table: str
    name: str
    kind: str  # p primary, u unique, f foreign, c check, x exclusion
    definition: str  # without " NOT VALID"
    validated: bool
    index: str | None  # the index behind a p/u/x constraint


@dataclass
class Index:
    table: str
    name: str
    definition: str  # pg_get_indexdef with the index name replaced by {name}
    valid: bool
    constraint: str | None  # set when the index backs a constraint


@dataclass
class Policy:
    table: str
    name: str
    command: str
    permissive: bool
    roles: list[str]
    using: str | None
    check: str | None


@dataclass
class Snapshot:
    tables: dict[str, Table]
    constraints: dict[tuple[str, str], Constraint]
    indexes: dict[str, Index]
    policies: dict[tuple[str, str], Policy]
    sequences: dict[str, dict[str, list[str]]]  # name -> grants

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": {k: asdict(v) for k, v in self.tables.items()},
            "constraints": [asdict(c) for c in self.constraints.values()],
            "indexes": [asdict(i) for i in self.indexes.values()],
            "policies": [asdict(p) for p in self.policies.values()],
            "sequences": self.sequences,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        data = copy.deepcopy(data)
        tables = {}
        for name, t in data["tables"].items():
            cols = {c: Column(**v) for c, v in t.pop("columns").items()}
            tables[name] = Table(**t, columns=cols)
        return cls(
            tables=tables,
            constraints={(c["table"], c["name"]): Constraint(**c) for c in data["constraints"]},
            indexes={i["name"]: Index(**i) for i in data["indexes"]},
            policies={(p["table"], p["name"]): Policy(**p) for p in data["policies"]},
            sequences=data["sequences"],
        )

    def tenant_tables(self) -> list[str]:
        return sorted(n for n, t in self.tables.items() if t.tenant_owned)


def _role_names(conn: psycopg.Connection[Any]) -> dict[str, str]:
    database = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    return {
        f"{database}_app": "{app}",
        f"{database}_migrator": "{migrator}",
        f"{database}_worker": "{worker}",
    }


def _role(name: str, roles: dict[str, str]) -> str:
    return roles.get(name, name)


_TABLES_SQL = """
select c.relname, c.relkind::text, pg_get_userbyid(c.relowner), c.relrowsecurity,
       c.relforcerowsecurity,
       coalesce((select array_agg(array[coalesce(r.rolname, 'PUBLIC'), a.privilege_type]
                                  order by 1)
                 from aclexplode(c.relacl) a left join pg_roles r on r.oid = a.grantee
                 where a.grantee <> c.relowner), '{}')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p', 'S')
"""

_COLUMNS_SQL = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid)
from pg_attribute a join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where n.nspname = 'public' and c.relkind in ('r', 'p') and a.attnum > 0
  and not a.attisdropped
order by c.relname, a.attnum
"""

_CONSTRAINTS_SQL = """
select c.relname, con.conname, con.contype::text, pg_get_constraintdef(con.oid),
       con.convalidated, nullif(con.conindid, 0)::regclass::text
from pg_constraint con join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and con.contype in ('p', 'u', 'f', 'c', 'x')
"""

_INDEXES_SQL = """
select t.relname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid,
       (select con.conname from pg_constraint con where con.conindid = i.indexrelid
          and con.conrelid = i.indrelid and con.contype in ('p', 'u', 'x'))
from pg_index i join pg_class ic on ic.oid = i.indexrelid
join pg_class t on t.oid = i.indrelid
join pg_namespace n on n.oid = t.relnamespace
where n.nspname = 'public'
"""

_POLICIES_SQL = """
select tablename, policyname, cmd, permissive = 'PERMISSIVE', roles::text[], qual, with_check
from pg_policies where schemaname = 'public'
"""


def index_template(definition: str, name: str) -> str:
    """``CREATE INDEX name ON ...`` → ``CREATE INDEX {name} ON ...`` (comparable by shape)."""
    return re.sub(
        rf"^(CREATE (?:UNIQUE )?INDEX) {re.escape(name)} ON ", r"\1 {name} ON ", definition
    )


def read_snapshot(conn: psycopg.Connection[Any]) -> Snapshot:
    roles = _role_names(conn)
    tables: dict[str, Table] = {}
    sequences: dict[str, dict[str, list[str]]] = {}
    for name, kind, owner, rls, force, acl in conn.execute(_TABLES_SQL):
        grants: dict[str, list[str]] = {}
        for grantee, privilege in acl:
            grants.setdefault(_role(grantee, roles), []).append(privilege)
        grants = {k: sorted(set(v)) for k, v in grants.items()}
        if kind == "S":
            sequences[name] = grants
        elif name not in IGNORED_TABLES:
            tables[name] = Table(_role(owner, roles), rls, force, grants=grants)
    for table, column, type_, notnull, default in conn.execute(_COLUMNS_SQL):
        if table in tables:
            tables[table].columns[column] = Column(type_, notnull, default)
    constraints = {}
    for table, name, kind, definition, validated, index in conn.execute(_CONSTRAINTS_SQL):
        if table in tables:
            definition = definition.removesuffix(" NOT VALID")
            constraints[(table, name)] = Constraint(table, name, kind, definition, validated, index)
    indexes = {}
    for table, name, definition, valid, constraint in conn.execute(_INDEXES_SQL):
        if table in tables:
            indexes[name] = Index(table, name, index_template(definition, name), valid, constraint)
    policies = {}
    for table, name, command, permissive, policy_roles, using, check in conn.execute(_POLICIES_SQL):
        policies[(table, name)] = Policy(
            table,
            name,
            command,
            permissive,
            sorted(_role(r, roles) for r in policy_roles),
            using,
            check,
        )
    return Snapshot(tables, constraints, indexes, policies, sequences)

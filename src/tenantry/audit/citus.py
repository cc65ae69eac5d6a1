"""``tenantry audit schema --citus``: the rules Citus imposes on the tables it will hold.

Past one node, every tenant-owned table (a ``tenant_id`` column) becomes a Citus
*distributed* table hashed on ``tenant_id``, colocated with the others; the declared
global tables become *reference* tables (a copy on every node), except the few that
stay *local* to the coordinator (``LOCAL_TABLES``: Alembic's bookkeeping, the job
queue and the platform audit log, which only the coordinator uses).
``tenantry citus distribute`` applies exactly this plan. The rules, from Citus's
documentation ("Creating and Modifying Distributed Objects", "Table Management") and
the checks in its source (13.2):

* distributed tables: the primary key, every UNIQUE constraint, unique index and
  EXCLUDE constraint includes ``tenant_id`` (Citus can only enforce uniqueness within a
  shard);
* a foreign key between distributed tables pairs ``tenant_id`` with ``tenant_id`` (same
  position in both column lists), so both rows live in the same shard group;
* a foreign key whose columns include ``tenant_id`` has no ``ON DELETE SET NULL / SET
  DEFAULT`` (even with a column list) and no ``ON UPDATE SET NULL / SET DEFAULT /
  CASCADE``: Citus refuses any action that could rewrite the distribution column;
* no foreign key from a reference or local table to a distributed table, and none from
  a distributed table to a local table (the rows would live on different nodes);
* no ``SET DEFAULT`` action on a column that defaults to a sequence (Citus drops those
  defaults on shards);
* no triggers on distributed or reference tables (Citus refuses them unless
  ``citus.enable_unsafe_triggers``, which would run them shard by shard);
* RLS policies on distributed tables have no subqueries;
* column defaults, policies and CHECK constraints of distributed and reference tables
  call only built-in functions: a function of ours would have to exist on every worker
  (``create_distributed_function``) or the statement is not pushed down;
* a sequence-backed default on a distributed table is ``bigint``: workers cannot draw
  ``int``/``smallint`` sequence values;
* the distribution column is not a generated column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, text

from tenantry.audit.finding import Finding
from tenantry.audit.rules import is_declared_global

TENANT_COLUMN = "tenant_id"
# Declared-global tables that stay on the coordinator instead of becoming reference
# tables: nothing distributed refers to them and only the coordinator uses them
# (Alembic's bookkeeping, the job queue, the operators' telemetry, and the platform
# audit log, whose append-only triggers Citus would refuse on a reference table).
LOCAL_TABLES: frozenset[str] = frozenset({"alembic_version", "platform_audit_log"})
LOCAL_PREFIXES: tuple[str, ...] = ("procrastinate_", "ops_")

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def citus_kind(table: str, has_tenant_column: bool) -> str:
    """``distributed``, ``reference`` or ``local``: what the table becomes on Citus."""
    if has_tenant_column:
        return "distributed"
    if table in LOCAL_TABLES or table.startswith(LOCAL_PREFIXES):
        return "local"
    return "reference" if is_declared_global(table) else "local"


@dataclass
class _Table:
    oid: int
    name: str
    kind: str
    tenant_attnum: int | None
    tenant_generated: bool
    columns: dict[int, str] = field(default_factory=dict)


_TABLES_SQL = """
select c.oid, c.relname, a.attnum as tenant_attnum,
       coalesce(a.attgenerated <> '', false) as tenant_generated
from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
left join pg_attribute a
       on a.attrelid = c.oid and a.attname = :tenant and not a.attisdropped
where ns.nspname = 'public' and c.relkind in ('r', 'p')
"""
_COLUMNS_SQL = """
select a.attrelid, a.attnum, a.attname from pg_attribute a
join pg_class c on c.oid = a.attrelid join pg_namespace ns on ns.oid = c.relnamespace
where ns.nspname = 'public' and a.attnum > 0 and not a.attisdropped
"""
_UNIQUES_SQL = """
select ic.relname as name, i.indrelid, i.indkey::int2[] as keys, i.indisprimary,
       coalesce(con.contype::text, '') as contype,
       coalesce(con.conexclop::oid[], '{}') as exclops
from pg_index i join pg_class ic on ic.oid = i.indexrelid
join pg_namespace ns on ns.oid = ic.relnamespace
left join pg_constraint con on con.conindid = i.indexrelid and con.contype = 'x'
where ns.nspname = 'public' and (i.indisunique or con.oid is not null)
"""
_FKS_SQL = """
select con.conname, con.conrelid, con.confrelid, con.conkey, con.confkey,
       con.confdeltype::text as on_delete, con.confupdtype::text as on_update,
       coalesce(con.confdelsetcols, '{}') as delete_set_columns
from pg_constraint con join pg_namespace ns on ns.oid = con.connamespace
where ns.nspname = 'public' and con.contype = 'f'
"""
_SEQUENCE_DEFAULTS_SQL = """
select d.adrelid as relid, a.attname, format_type(a.atttypid, a.atttypmod) as type
from pg_attrdef d
join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
join pg_depend dep on dep.classid = 'pg_attrdef'::regclass and dep.objid = d.oid
join pg_class s on s.oid = dep.refobjid and s.relkind = 'S'
"""
# Workers draw only bigint sequence values.
_NARROW_SEQUENCE_DEFAULTS_SQL = _SEQUENCE_DEFAULTS_SQL + "where a.atttypid <> 'bigint'::regtype"
_TRIGGERS_SQL = "select tgrelid as relid, tgname from pg_trigger where not tgisinternal"
_SUBQUERY_POLICIES_SQL = """
select relid, polname from (
  select p.polrelid as relid, p.polname,
         upper(coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' '
               || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')) as expression
  from pg_policy p
) policies
where strpos(expression, 'SELECT ') > 0 or strpos(expression, 'EXISTS') > 0
"""
# Functions outside pg_catalog that a table's defaults, policies or CHECKs call.
_USER_FUNCTIONS_SQL = """
select distinct dep.refobjid as func, p.proname, n.nspname,
       case dep.classid
         when 'pg_attrdef'::regclass then (select adrelid from pg_attrdef where oid = dep.objid)
         when 'pg_policy'::regclass then (select polrelid from pg_policy where oid = dep.objid)
         when 'pg_constraint'::regclass
           then (select conrelid from pg_constraint where oid = dep.objid)
       end as relid,
       dep.classid::regclass::text as used_by
from pg_depend dep
join pg_proc p on p.oid = dep.refobjid and dep.refclassid = 'pg_proc'::regclass
join pg_namespace n on n.oid = p.pronamespace
where dep.classid in ('pg_attrdef'::regclass, 'pg_policy'::regclass, 'pg_constraint'::regclass)
  and n.nspname <> 'pg_catalog'
"""


def _tables(conn: Connection) -> dict[int, _Table]:
    tables = {
        row.oid: _Table(
            row.oid,
            row.relname,
            citus_kind(row.relname, row.tenant_attnum is not None),
            row.tenant_attnum,
            row.tenant_generated,
        )
        for row in conn.execute(text(_TABLES_SQL), {"tenant": TENANT_COLUMN})
    }
    for relid, attnum, attname in conn.execute(text(_COLUMNS_SQL)):
        if relid in tables:
            tables[relid].columns[attnum] = attname
    return tables


def _names(table: _Table, keys: Iterable[int]) -> str:
    return ", ".join(table.columns.get(k, "<expression>") if k else "<expression>" for k in keys)


def _unique_findings(conn: Connection, tables: dict[int, _Table]) -> Iterable[Finding]:
    for row in conn.execute(text(_UNIQUES_SQL)):
        table = tables.get(row.indrelid)
        if table is None or table.kind != "distributed":
            continue
        keys = list(row.keys)
        what = (
            "primary key"
            if row.indisprimary
            else ("EXCLUDE constraint" if row.contype == "x" else "unique index/constraint")
        )
        if table.tenant_attnum not in keys:
            yield Finding(
                table.name,
                "citus_unique_without_distribution_column",
                f"{what} {row.name} ({_names(table, keys)}) lacks {TENANT_COLUMN}: Citus "
                "enforces uniqueness only within a shard",
            )


# Keys Citus refuses by the kinds of their two tables (the rows would live on different
# nodes): (child's kind, parent's kind) -> the finding's code and what it says.
_REFUSED_KINDS: dict[tuple[str, str], tuple[str, str]] = {
    ("reference", "distributed"): (
        "citus_fk_to_distributed",
        "a reference table cannot reference distributed {parent}",
    ),
    ("local", "distributed"): (
        "citus_fk_to_distributed",
        "a local table cannot reference distributed {parent}",
    ),
    ("distributed", "local"): (
        "citus_fk_to_local",
        "a distributed table cannot reference {parent}, which stays local to the coordinator",
    ),
    ("local", "reference"): (
        "citus_fk_to_local",
        "local table references reference table {parent}; add it to Citus metadata or drop the key",
    ),
}


def _fk_findings(conn: Connection, tables: dict[int, _Table]) -> Iterable[Finding]:
    sequence_columns = {
        (row.relid, row.attname) for row in conn.execute(text(_SEQUENCE_DEFAULTS_SQL))
    }
    for fk in conn.execute(text(_FKS_SQL)):
        child, parent = tables.get(fk.conrelid), tables.get(fk.confrelid)
        if child is None or parent is None:
            continue
        name = fk.conname
        refused = _REFUSED_KINDS.get((child.kind, parent.kind))
        if refused is not None:
            code, says = refused
            yield Finding(child.name, code, f"{name}: {says.format(parent=parent.name)}")
            continue  # a key that cannot exist at all: its actions are moot
        includes_tenant = child.kind == "distributed" and child.tenant_attnum in fk.conkey
        if child.kind == "distributed" and parent.kind == "distributed":
            position = list(fk.conkey).index(child.tenant_attnum) if includes_tenant else -1
            if position < 0 or list(fk.confkey)[position] != parent.tenant_attnum:
                yield Finding(
                    child.name,
                    "citus_fk_not_colocated",
                    f"{name}: must pair {TENANT_COLUMN} with {parent.name}.{TENANT_COLUMN}",
                )
        for action in _refused_actions(fk, child, sequence_columns):
            yield Finding(child.name, "citus_fk_action", f"{name}: {action}")


def _refused_actions(
    fk: Any, child: _Table, sequence_columns: set[tuple[int, str]]
) -> Iterable[str]:
    """What Citus refuses in a key's ON DELETE / ON UPDATE actions."""
    if child.kind == "distributed" and child.tenant_attnum in fk.conkey:
        if fk.on_delete in ("n", "d"):
            cols = f" ({_names(child, fk.delete_set_columns)})" if fk.delete_set_columns else ""
            yield (
                f"ON DELETE {_ACTIONS[fk.on_delete]}{cols} on a key that includes "
                f"{TENANT_COLUMN} is refused by Citus"
            )
        if fk.on_update in ("n", "d", "c"):
            yield (
                f"ON UPDATE {_ACTIONS[fk.on_update]} on a key that includes "
                f"{TENANT_COLUMN} is refused by Citus"
            )
    if "d" in (fk.on_delete, fk.on_update) and any(
        (child.oid, child.columns.get(k)) in sequence_columns for k in fk.conkey
    ):
        yield "SET DEFAULT on a column that defaults to a sequence"


class _ObjectRule(NamedTuple):
    sql: str  # the catalogue rows that break the rule, each naming its table as ``relid``
    kinds: tuple[str, ...]  # the kinds of table Citus refuses them on
    code: str
    says: str  # the finding's text, formatted with the ``row`` and its ``table``


_ON_CITUS = ("distributed", "reference")
_OBJECT_RULES = (
    _ObjectRule(
        _TRIGGERS_SQL,
        _ON_CITUS,
        "citus_trigger",
        "trigger {row.tgname}: Citus refuses triggers on {table.kind} tables",
    ),
    _ObjectRule(
        _SUBQUERY_POLICIES_SQL,
        ("distributed",),
        "citus_policy_subquery",
        "policy {row.polname} has a subquery: not supported on distributed tables",
    ),
    _ObjectRule(
        _USER_FUNCTIONS_SQL,
        _ON_CITUS,
        "citus_user_function",
        "{row.nspname}.{row.proname}() used by a {row.used_by} row: it must exist on every "
        "worker (create_distributed_function) or the statement is not pushed down",
    ),
    _ObjectRule(
        _NARROW_SEQUENCE_DEFAULTS_SQL,
        ("distributed",),
        "citus_sequence_type",
        "{row.attname} defaults to a sequence as {row.type}: workers can only draw bigint "
        "sequence values",
    ),
)


def _object_findings(conn: Connection, tables: dict[int, _Table]) -> Iterable[Finding]:
    for rule in _OBJECT_RULES:
        for row in conn.execute(text(rule.sql)):
            table = tables.get(row.relid)
            if table is not None and table.kind in rule.kinds:
                yield Finding(table.name, rule.code, rule.says.format(row=row, table=table))
    for table in tables.values():
        if table.kind == "distributed" and table.tenant_generated:
            yield Finding(
                table.name,
                "citus_distribution_column",
                f"{TENANT_COLUMN} is a generated column: cannot distribute by it",
            )


def citus_findings(bind: Engine | Connection) -> list[Finding]:
    """The Citus rules on schema ``public`` of the database behind ``bind``; [] = clean."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return citus_findings(conn)
    tables = _tables(bind)
    found = [
        *_unique_findings(bind, tables),
        *_fk_findings(bind, tables),
        *_object_findings(bind, tables),
    ]
    return sorted(set(found))


def citus_plan(bind: Connection) -> dict[str, list[str]]:
    """Table names by what they become on Citus (``distributed``, ``reference``, ``local``)."""
    plan: dict[str, list[str]] = {"distributed": [], "reference": [], "local": []}
    for table in sorted(_tables(bind).values(), key=lambda t: t.name):
        plan[table.kind].append(table.name)
    return plan

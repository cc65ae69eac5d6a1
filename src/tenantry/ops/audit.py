"""``tenantry audit schema``: check wall 5 against the LIVE catalogue.

The seed's ``check_prisma_tenant_columns`` read the Prisma schema file; a schema file
can say one thing while the database says another (a hand-applied hotfix, a migration
that forgot its policy, a ``DROP POLICY`` during an incident). So this audit reads
``pg_catalog`` of the running database, schema ``public``, and nothing else.

A table is *tenant-owned* when it has a ``tenant_id`` column. For each one:

* ``tenant_id`` is NOT NULL and references ``tenants(id) ON DELETE CASCADE``;
* some valid, non-partial index is led by ``tenant_id`` (the policy predicate needs it);
* RLS is ENABLEd and FORCEd (FORCE binds the owner too);
* SELECT, INSERT, UPDATE and DELETE are each covered by a permissive policy that is
  exactly ``tenant_id = <expression of current_setting('app.current_tenant_id')>``,
  with no ``OR`` / ``IS NULL`` / ``COALESCE`` / ``CASE`` / subquery escape, in USING and
  in WITH CHECK (a missing WITH CHECK on ALL/UPDATE falls back to USING, which is
  PostgreSQL's rule, so it is accepted);
* any other permissive policy is FOR SELECT only, keyed on an ``app.current_*``
  setting and free of the same escapes (``tenant_memberships.member_self_read``);
  permissive policies are OR-ed, so one loose policy undoes the strict one;
* the primary key, every UNIQUE constraint and every unique index include ``tenant_id``;
* every foreign key to another tenant-owned table pairs ``tenant_id`` with the
  parent's ``tenant_id`` (composite), so a row cannot point into another tenant;
* the app role (``<db>_app``) may not TRUNCATE it (TRUNCATE ignores RLS).

Every other table must be declared global (``GLOBAL_TABLES`` / ``GLOBAL_PREFIXES``).
Views must be ``security_invoker`` unless declared global: a plain view runs as its
owner, the migrator, which has BYPASSRLS — it would serve every tenant's rows.
The app role itself must not be superuser, have BYPASSRLS, or own relations here.

The audit's queries only read, and it does not migrate first: it reports the database
as it is. (The command opens the database through ``prepare_database`` like every other
command, and that step is idempotent but not read-only: it creates missing roles and the
database and re-applies the roles' attributes and passwords from the data folder.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Connection, Engine, create_engine, text

# Tables that are not tenant-owned on purpose. Anything else without a tenant_id
# column is a finding: a new table must choose a side explicitly.
GLOBAL_TABLES: frozenset[str] = frozenset({"tenants", "users", "alembic_version"})
# Job-queue libraries create their own tables (jobs carry the tenant in their payload
# and the runner re-enters the tenant context).
GLOBAL_PREFIXES: tuple[str, ...] = ("procrastinate_",)

TENANT_COLUMN = "tenant_id"
TENANT_SETTING_NAME = "app.current_tenant_id"
COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True, order=True)
class Finding:
    table: str
    rule: str
    detail: str


def is_declared_global(table: str) -> bool:
    return table in GLOBAL_TABLES or table.startswith(GLOBAL_PREFIXES)


# --------------------------------------------------------------------------- reading


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

_CONSTRAINTS_SQL = """
select con.conname, con.contype::text as contype, con.conrelid, con.conkey,
       nullif(con.confrelid, 0) as confrelid, coalesce(con.confkey, '{}') as confkey,
       con.confdeltype::text as confdeltype
from pg_constraint con
join pg_namespace ns on ns.oid = con.connamespace
where ns.nspname = 'public' and con.contype in ('p', 'u', 'f')
order by con.conname
"""

_INDEXES_SQL = """
select ic.relname as name, i.indrelid, i.indkey::int2[] as keys, i.indisunique,
       i.indisprimary, i.indpred is not null as partial, i.indisvalid
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_namespace ns on ns.oid = ic.relnamespace
where ns.nspname = 'public'
order by ic.relname
"""

_POLICIES_SQL = """
select tablename, policyname, cmd, permissive = 'PERMISSIVE' as permissive, qual, with_check
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
    constraints = [
        _Constraint(
            name=row.conname,
            kind=row.contype,
            table_oid=row.conrelid,
            columns=tuple(row.conkey or ()),
            ref_oid=row.confrelid,
            ref_columns=tuple(row.confkey or ()),
            on_delete=row.confdeltype,
        )
        for row in conn.execute(text(_CONSTRAINTS_SQL))
    ]
    indexes = [
        _Index(
            name=row.name,
            table_oid=row.indrelid,
            keys=tuple(row.keys),
            unique=row.indisunique,
            primary=row.indisprimary,
            partial=row.partial,
            valid=row.indisvalid,
        )
        for row in conn.execute(text(_INDEXES_SQL))
    ]
    policies = [
        _Policy(
            table=row.tablename,
            name=row.policyname,
            command=row.cmd,
            permissive=row.permissive,
            using=row.qual,
            check=row.with_check,
        )
        for row in conn.execute(text(_POLICIES_SQL))
    ]
    app_role_row = conn.execute(text(_APP_ROLE_SQL), {"app_role": app_role}).one_or_none()
    return _Catalogue(relations, constraints, indexes, policies, app_role, app_role_row)


# ------------------------------------------------------------------ policy expressions

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_ESCAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("OR", re.compile(r"\bOR\b", re.I)),
    ("IS NULL", re.compile(r"\bIS\s+(NOT\s+)?NULL\b", re.I)),
    ("IS DISTINCT FROM", re.compile(r"\bDISTINCT\s+FROM\b", re.I)),
    ("COALESCE", re.compile(r"\bCOALESCE\b", re.I)),
    ("CASE", re.compile(r"\bCASE\b", re.I)),
    ("NOT", re.compile(r"\bNOT\b", re.I)),
    ("subquery", re.compile(r"\b(SELECT|EXISTS)\b", re.I)),
    ("ANY/ALL", re.compile(r"\b(ANY|SOME|ALL)\s*\(", re.I)),
    ("<>", re.compile(r"<>|!=")),
)


def _escapes(expression: str) -> list[str]:
    bare = _LITERAL.sub("''", expression)
    return [name for name, pattern in _ESCAPES if pattern.search(bare)]


def _strip_parens(expression: str) -> str:
    expression = expression.strip()
    while expression.startswith("(") and expression.endswith(")"):
        depth = 0
        for i, ch in enumerate(expression):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(expression) - 1:
                return expression  # the outer parens close early: "(a) = (b)"
        expression = expression[1:-1].strip()
    return expression


def _top_level_equalities(expression: str) -> list[tuple[str, str]]:
    """Split ``a = b`` at a top-level ``=`` (outside parentheses and literals)."""
    bare = _LITERAL.sub(lambda m: "_" * len(m.group()), expression)
    depth, cuts = 0, []
    for i, ch in enumerate(bare):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "=" and depth == 0 and bare[i - 1 : i] not in ("<", ">", "!"):
            cuts.append(i)
    return [(expression[:i], expression[i + 1 :]) for i in cuts]


def strict_tenant_problem(expression: str | None) -> str | None:
    """Why ``expression`` is not the strict tenant predicate, or None when it is.

    Strict means: exactly ``tenant_id = <expr>`` where ``<expr>`` reads
    ``app.current_tenant_id`` and does not mention ``tenant_id`` itself, with no
    escape that could make the predicate true for another tenant or for "no tenant".
    """
    if expression is None:
        return "missing"
    if TENANT_SETTING_NAME not in expression:
        return f"does not read {TENANT_SETTING_NAME}"
    escapes = _escapes(expression)
    if escapes:
        return "contains " + ", ".join(escapes)
    body = _strip_parens(expression)
    sides = _top_level_equalities(body)
    if len(sides) != 1:
        return "is not a single tenant_id equality"
    left, right = (_strip_parens(side) for side in sides[0])
    if left != TENANT_COLUMN:
        left, right = right, left
    if left != TENANT_COLUMN or TENANT_SETTING_NAME not in right:
        return "does not compare tenant_id with the tenant setting"
    if re.search(rf"\b{TENANT_COLUMN}\b", _LITERAL.sub("''", right)):
        return "compares tenant_id with itself"
    return None


def _loose_extra_problem(expression: str | None) -> str | None:
    if expression is None:
        return "has no USING expression"
    if not re.search(r"app\.current_[a-z_]+", expression):
        return "is not keyed on an app.current_* setting"
    escapes = _escapes(expression)
    return "contains " + ", ".join(escapes) if escapes else None


# ------------------------------------------------------------------------- the rules


def _strict_problems(policy: _Policy) -> list[str]:
    """Why ``policy`` is not the strict tenant policy for its commands ([] if it is)."""
    # USING governs which rows are seen/changed; WITH CHECK which rows may be written.
    # A missing WITH CHECK on ALL/UPDATE means "same as USING" (PostgreSQL's rule).
    parts: list[tuple[str, str | None]] = []
    if policy.command in ("ALL", "SELECT", "UPDATE", "DELETE"):
        parts.append(("USING", policy.using))
    if policy.command in ("ALL", "UPDATE") and policy.check is not None:
        parts.append(("WITH CHECK", policy.check))
    if policy.command == "INSERT":
        parts.append(("WITH CHECK", policy.check))
    return [
        f"{label} {problem}"
        for label, expr in parts
        if (problem := strict_tenant_problem(expr)) is not None
    ]


def _policy_findings(rel: _Relation, policies: Sequence[_Policy]) -> Iterable[Finding]:
    covered: set[str] = set()
    for policy in policies:
        if not policy.permissive:
            continue  # restrictive policies are AND-ed: they can only narrow
        problems = _strict_problems(policy)
        if not problems:
            covered.update(COMMANDS if policy.command == "ALL" else (policy.command,))
            continue
        if policy.command == "SELECT" and _loose_extra_problem(policy.using) is None:
            continue  # an extra read policy keyed on a setting (member_self_read)
        mentions_tenant = any(
            expr and re.search(rf"\b{TENANT_COLUMN}\b", _LITERAL.sub("''", expr))
            for expr in (policy.using, policy.check)
        )
        if mentions_tenant:  # meant as the tenant policy, but loosened
            yield Finding(
                rel.name,
                "tenant_policy_not_strict",
                f"policy {policy.name} (FOR {policy.command}): " + "; ".join(problems),
            )
        elif policy.command != "SELECT":
            yield Finding(
                rel.name,
                "extra_permissive_policy",
                f"policy {policy.name} is FOR {policy.command}; permissive policies are "
                "OR-ed with the tenant policy, so extra ones may only be FOR SELECT",
            )
        else:
            yield Finding(
                rel.name,
                "extra_permissive_policy",
                f"read policy {policy.name} {_loose_extra_problem(policy.using)}",
            )
    missing = [c for c in COMMANDS if c not in covered]
    if missing:
        yield Finding(
            rel.name,
            "tenant_policy_missing",
            "no strict tenant policy for " + ", ".join(missing),
        )


def _names(rel: _Relation, keys: Iterable[int]) -> str:
    return "(" + ", ".join(rel.columns.get(k, "<expr>") for k in keys) + ")"


def _tenant_table_findings(rel: _Relation, cat: _Catalogue) -> Iterable[Finding]:
    t = rel.tenant_attnum
    assert t is not None
    if rel.kind == "m":
        yield Finding(
            rel.name,
            "tenant_matview",
            "a materialized view cannot carry RLS; it serves every tenant's rows",
        )
        return
    if rel.kind == "v":
        return  # views are checked for security_invoker with the other views
    if not rel.tenant_not_null:
        yield Finding(rel.name, "tenant_id_not_null", "tenant_id is nullable")

    constraints = [c for c in cat.constraints if c.table_oid == rel.oid]
    tenants_oid = next((o for o, r in cat.relations.items() if r.name == "tenants"), None)
    to_tenants = [
        c for c in constraints
        if c.kind == "f" and c.ref_oid == tenants_oid and c.columns == (t,)
    ]  # fmt: skip
    if not to_tenants:
        yield Finding(rel.name, "tenant_fk_cascade", "no foreign key tenant_id -> tenants(id)")
    elif not any(c.on_delete == "c" for c in to_tenants):
        yield Finding(
            rel.name,
            "tenant_fk_cascade",
            f"foreign key {to_tenants[0].name} is not ON DELETE CASCADE",
        )

    indexes = [i for i in cat.indexes if i.table_oid == rel.oid]
    if not any(i.keys[:1] == (t,) and i.valid and not i.partial for i in indexes):
        yield Finding(rel.name, "tenant_index", "no valid, non-partial index led by tenant_id")

    if not rel.rls_enabled:
        yield Finding(rel.name, "rls_enabled", "row-level security is not enabled")
    if not rel.rls_forced:
        yield Finding(
            rel.name, "rls_forced", "row-level security is not forced (the owner bypasses it)"
        )
    yield from _policy_findings(rel, [p for p in cat.policies if p.table == rel.name])

    pk = next((c for c in constraints if c.kind == "p"), None)
    if pk is None:
        yield Finding(rel.name, "pk_includes_tenant", "no primary key")
    elif t not in pk.columns:
        yield Finding(
            rel.name,
            "pk_includes_tenant",
            f"primary key {pk.name} {_names(rel, pk.columns)} lacks tenant_id",
        )
    for index in indexes:
        if index.unique and not index.primary and t not in index.keys:
            yield Finding(
                rel.name,
                "unique_includes_tenant",
                f"unique index {index.name} {_names(rel, index.keys)} lacks tenant_id",
            )

    for fk in constraints:
        parent = cat.relations.get(fk.ref_oid) if fk.kind == "f" and fk.ref_oid else None
        if parent is None or not parent.tenant_owned:
            continue
        pairs = set(zip(fk.columns, fk.ref_columns, strict=False))
        if (t, parent.tenant_attnum) not in pairs:
            yield Finding(
                rel.name,
                "composite_fk",
                f"foreign key {fk.name} {_names(rel, fk.columns)} -> {parent.name}"
                f"{_names(parent, fk.ref_columns)} does not pair tenant_id with tenant_id",
            )

    if rel.app_may_truncate:
        yield Finding(
            rel.name,
            "app_truncate",
            f"{cat.app_role} may TRUNCATE it, and TRUNCATE ignores row-level security",
        )


def _view_findings(rel: _Relation) -> Iterable[Finding]:
    options = dict(o.split("=", 1) for o in rel.options if "=" in o)
    if options.get("security_invoker", "").lower() not in ("true", "on", "1", "yes"):
        yield Finding(
            rel.name,
            "view_security_invoker",
            "view runs as its owner (BYPASSRLS); set security_invoker = true or declare it global",
        )


def _app_role_findings(cat: _Catalogue) -> Iterable[Finding]:
    row = cat.app_role_row
    if row is None:
        return
    where = f"(role {cat.app_role})"
    if row.rolsuper or row.rolbypassrls:
        yield Finding(where, "app_role", "the app role is superuser or has BYPASSRLS")
    if row.owns:
        yield Finding(
            where,
            "app_role",
            "the app role owns " + ", ".join(row.owns) + " (an owner can turn RLS off)",
        )


def _audit(conn: Connection) -> list[Finding]:
    cat = _read_catalogue(conn)
    findings: list[Finding] = []
    for rel in cat.relations.values():
        if rel.tenant_owned:
            findings.extend(_tenant_table_findings(rel, cat))
            if rel.kind == "v":
                findings.extend(_view_findings(rel))
        elif is_declared_global(rel.name):
            continue
        elif rel.kind == "v":
            findings.extend(_view_findings(rel))
        else:
            findings.append(
                Finding(
                    rel.name,
                    "undeclared_table",
                    "neither tenant-owned (no tenant_id column) nor declared global",
                )
            )
    findings.extend(_app_role_findings(cat))
    return sorted(findings)


def audit_schema(bind: Engine | Connection) -> list[Finding]:
    """Audit schema ``public`` of the database behind ``bind``; [] means clean."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _audit(conn)
    return _audit(bind)


# ------------------------------------------------------------------------------ CLI

audit_app = typer.Typer(help="Audit the live database against the isolation rules.")


@audit_app.callback()
def _audit_group() -> None:
    """Audit the live database against the isolation rules."""
    # A callback keeps ``audit`` a command group even while it has one command, so
    # ``tenantry audit schema`` keeps its shape when more audits are added.


def format_table(findings: Sequence[Finding]) -> str:
    header = ("TABLE", "RULE", "DETAIL")
    rows = [header, *((f.table, f.rule, f.detail) for f in findings)]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip() for r in rows)


@audit_app.command("schema")
def schema_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder of the embedded database (<dir>/pg) and secrets. Default .tenantry. "
            "Ignored for the database when DATABASE_URL is set.",
            envvar="TENANTRY_DATA_DIR",
        ),
    ] = None,
) -> None:
    """Check every table in schema public; exit 1 on any finding.

    Reads the database named by the settings (``DATABASE_URL`` or the embedded server
    in the data folder) as the migrator. Nothing is migrated.
    """
    from tenantry.errors import DatabaseUnavailable
    from tenantry.ops.runtime import prepare_database
    from tenantry.settings import get_settings

    settings = get_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    try:
        urls = prepare_database(settings, migrate=False)
        engine = create_engine(urls.migrator)
        try:
            findings = audit_schema(engine)
        finally:
            engine.dispose()
    except DatabaseUnavailable as exc:
        typer.echo(f"error: cannot reach the database: {exc}", err=True)
        raise typer.Exit(2) from exc

    if as_json:
        typer.echo(
            json.dumps(
                {
                    "database": urls.database,
                    "ok": not findings,
                    "findings": [asdict(f) for f in findings],
                },
                indent=2,
            )
        )
    elif findings:
        typer.echo(format_table(findings))
        typer.echo(f"\n{len(findings)} finding(s) in database {urls.database}")
    else:
        typer.echo(f"schema audit of database {urls.database}: clean")
    raise typer.Exit(1 if findings else 0)


if __name__ == "__main__":  # pragma: no cover - `python -m tenantry.ops.audit schema`
    audit_app()

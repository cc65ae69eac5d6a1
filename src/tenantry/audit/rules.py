"""The isolation rules, applied to the catalogue records (see the package docstring)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Engine

from tenantry.audit.catalogue import (
    TENANT_COLUMN,
    _Catalogue,
    _Policy,
    _read_catalogue,
    _Relation,
)
from tenantry.audit.finding import Finding as Finding  # also imported from here
from tenantry.audit.identity import identity_findings

# Tables that are not tenant-owned on purpose. Anything else without a tenant_id
# column is a finding: a new table must choose a side explicitly.
# ``users``, ``user_sessions``, ``account_tokens``: people, not tenants' rows; their
# own rules are in ``identity.py``. platform_audit_log outlives the tenants it names
# (see its migration).
GLOBAL_TABLES: frozenset[str] = frozenset(
    {
        "tenants",
        "users",
        "user_sessions",
        "account_tokens",
        "alembic_version",
        "platform_audit_log",
    }
)
# Job-queue libraries create their own tables (jobs carry the tenant in their payload
# and the runner re-enters the tenant context). ``ops_``: the platform operator's
# aggregate security view (tenantry.observability.models), never a tenant's data.
GLOBAL_PREFIXES: tuple[str, ...] = ("procrastinate_", "ops_")

TENANT_SETTING_NAME = "app.current_tenant_id"
COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


def is_declared_global(table: str) -> bool:
    return table in GLOBAL_TABLES or table.startswith(GLOBAL_PREFIXES)


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


# "No tenant is pinned": the one IS NULL an extra read policy may (and, unless it is
# bounded to the pinned tenant, must) contain.
_UNPINNED = re.compile(
    r"^\(*\s*NULLIF\(current_setting\('app\.current_tenant_id'(::text)?, true\), "
    r"''(::text)?\)\)*(::uuid)?\s+IS\s+NULL\s*\)*$",
    re.I,
)
CROSSES_TENANTS = (
    "applies while a tenant is pinned without being bounded to it: with one tenant "
    "pinned it returns rows of others (add tenant_id = <tenant setting>, or "
    "<tenant setting> IS NULL so it serves only requests with no tenant)"
)


def _top_level_conjuncts(expression: str) -> list[str]:
    """``a AND b AND c`` split at top-level ANDs (outside parentheses and literals)."""
    body = _strip_parens(expression)
    bare = _LITERAL.sub(lambda m: "_" * len(m.group()), body)
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"\(|\)|\bAND\b", bare, re.I):
        part = match.group()
        if part == "(":
            depth += 1
        elif part == ")":
            depth -= 1
        elif depth == 0:
            parts.append(body[start : match.start()])
            start = match.end()
    parts.append(body[start:])
    return [_strip_parens(p) for p in parts]


def _loose_extra_problem(expression: str | None) -> str | None:
    """Why an extra permissive read policy on a tenant table is unsafe, or None.

    It must be keyed on an ``app.current_*`` setting, free of escapes, and unable to
    reach past the pinned tenant: either one of its top-level conjuncts is the strict
    tenant predicate, or one says no tenant is pinned (``member_self_read``).
    """
    if expression is None:
        return "has no USING expression"
    conjuncts = _top_level_conjuncts(expression)
    unpinned = [c for c in conjuncts if _UNPINNED.match(c)]
    bounded = any(strict_tenant_problem(c) is None for c in conjuncts)
    rest = [c for c in conjuncts if c not in unpinned]
    if not rest or not any(re.search(r"app\.current_[a-z_]+", c) for c in rest):
        return "is not keyed on an app.current_* setting"
    escapes = sorted({e for c in rest for e in _escapes(c)})
    if escapes:
        return "contains " + ", ".join(escapes)
    return None if bounded or unpinned else CROSSES_TENANTS


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
            problem = _loose_extra_problem(policy.using)
            yield Finding(
                rel.name,
                "read_policy_crosses_tenants"
                if problem == CROSSES_TENANTS
                else "extra_permissive_policy",
                f"read policy {policy.name} {problem}",
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
    findings.extend(identity_findings(conn))
    return sorted(findings)


def audit_schema(bind: Engine | Connection) -> list[Finding]:
    """The table rules on schema ``public`` of the database behind ``bind`` ([] is
    clean). ``tenantry.audit.audit_schema`` adds the privilege rules."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _audit(conn)
    return _audit(bind)

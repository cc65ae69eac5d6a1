"""Privilege rules: what the app and worker roles may do beyond their tables.

Issue 8, finding 10 found the app role able to delete ``alembic_version``, read and
write every tenant's job arguments, create large objects, temp tables and functions,
and the embedded server not checking passwords at all. Each rule here is one of those
privileges, so none can come back unnoticed (``tenantry audit schema`` fails):

* ``app_alembic_version`` — the app role holds any privilege on ``alembic_version``;
* ``job_queue_rls`` — ``procrastinate_jobs`` is not under row-level security, ENABLEd
  and FORCEd;
* ``job_queue_policy`` — a permissive policy that applies to the app role (or PUBLIC)
  is not exactly "the job's ``args->>'tenant_id'`` is the transaction's tenant";
* ``job_queue_truncate`` — the app role may TRUNCATE a job-queue table (TRUNCATE
  ignores row-level security);
* ``worker_scope`` — the worker role (BYPASSRLS, to run every tenant's jobs) holds a
  privilege on anything but the job queue's tables and sequences, or is superuser:
  BYPASSRLS plus one grant on a tenant table would read every tenant's rows;
* ``role_large_objects`` — the app or worker role may run a function that creates or
  writes large objects (``lo_create``, ``lo_creat``, ``lo_from_bytea``, ``lo_import``,
  ``lo_put``, ``lowrite``);
* ``role_temp`` — the app or worker role has TEMPORARY on the database (temp tables,
  and functions in ``pg_temp``);
* ``role_create`` — the app or worker role may CREATE in the database (schemas) or in
  any schema (tables, functions, types);
* ``role_password_unchecked`` (needs the admin connection, which can read
  ``pg_hba_file_rules``) — the first ``pg_hba.conf`` rule that would match a
  connection of the app, worker or migrator role is ``trust`` (no check) or
  ``password`` (clear text).

Each is its own function, so rules added for other privileges (users, memberships)
live beside them without touching these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from tenantry.audit.finding import Finding
from tenantry.audit.rules import (
    TENANT_SETTING_NAME,
    _escapes,
    _strip_parens,
    _top_level_equalities,
)

JOB_TABLE = "procrastinate_jobs"
JOB_TENANT_ARG = re.compile(r"args\s*->>\s*'tenant_id'")
LARGE_OBJECT_WRITERS = (
    "lo_create(oid)",
    "lo_creat(integer)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
    "lo_put(oid, bigint, bytea)",
    "lowrite(integer, bytea)",
)
UNCHECKED_AUTH = ("trust", "password")
PRIVILEGE_RULES = (
    "app_alembic_version",
    "job_queue_rls",
    "job_queue_policy",
    "job_queue_truncate",
    "worker_scope",
    "role_large_objects",
    "role_temp",
    "role_create",
    "role_password_unchecked",
)


def _roles(conn: Connection) -> tuple[str, str, str, str]:
    database = str(conn.execute(text("select current_database()")).scalar_one())
    return database, f"{database}_app", f"{database}_worker", f"{database}_migrator"


def _existing(conn: Connection, roles: Iterable[str]) -> list[str]:
    names = list(roles)
    found = conn.execute(
        text("select rolname from pg_roles where rolname = any(:r)"), {"r": names}
    ).scalars()
    present = set(found)
    return [r for r in names if r in present]


def privilege_findings(conn: Connection) -> list[Finding]:
    """Every privilege rule that reads the database's own catalogue."""
    _, app, worker, _ = _roles(conn)
    findings: list[Finding] = []
    findings += alembic_version_findings(conn, app)
    findings += job_queue_findings(conn, app)
    findings += worker_scope_findings(conn, worker)
    for role in _existing(conn, (app, worker)):
        findings += large_object_findings(conn, role)
        findings += temp_and_create_findings(conn, role)
    return findings


def alembic_version_findings(conn: Connection, app: str) -> list[Finding]:
    held = conn.execute(
        text(
            "select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p "
            "where exists (select 1 from pg_roles where rolname = :r) "
            "and to_regclass('public.alembic_version') is not null "
            "and has_table_privilege(:r, 'public.alembic_version', p)"
        ),
        {"r": app},
    ).scalars()
    privileges = list(held)
    if not privileges:
        return []
    return [
        Finding(
            "alembic_version",
            "app_alembic_version",
            f"{app} may {', '.join(privileges)} it (only the migrator may touch the revision)",
        )
    ]


def _job_policy_problem(expression: str | None) -> str | None:
    if expression is None:
        return "missing"
    if _escapes(expression):
        return "contains " + ", ".join(_escapes(expression))
    sides = _top_level_equalities(_strip_parens(expression))
    if len(sides) != 1:
        return "is not a single equality"
    left, right = (_strip_parens(side) for side in sides[0])
    if not JOB_TENANT_ARG.search(left):
        left, right = right, left
    if not JOB_TENANT_ARG.search(left) or TENANT_SETTING_NAME not in right:
        return f"does not compare args->>'tenant_id' with {TENANT_SETTING_NAME}"
    return None


def job_queue_findings(conn: Connection, app: str) -> list[Finding]:
    table = conn.execute(
        text(
            "select c.relrowsecurity, c.relforcerowsecurity from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relname = :t"
        ),
        {"t": JOB_TABLE},
    ).first()
    if table is None:
        return []  # no job queue installed
    findings: list[Finding] = []
    if not (table[0] and table[1]):
        findings.append(
            Finding(
                JOB_TABLE,
                "job_queue_rls",
                "row-level security is not enabled and forced: the app role reads and "
                "writes every tenant's job arguments",
            )
        )
    policies = conn.execute(
        text(
            "select policyname, cmd, permissive = 'PERMISSIVE', roles::text[], qual, with_check "
            "from pg_policies where schemaname = 'public' and tablename = :t"
        ),
        {"t": JOB_TABLE},
    ).all()
    for name, command, permissive, roles, using, check in policies:
        if not permissive or not ({app, "public"} & set(roles)):
            continue
        parts = [("USING", using)] if command != "INSERT" else []
        if command in ("ALL", "INSERT", "UPDATE") and (check is not None or command == "INSERT"):
            parts.append(("WITH CHECK", check))
        problems = [
            f"{label} {problem}"
            for label, expr in parts
            if (problem := _job_policy_problem(expr)) is not None
        ]
        if problems:
            findings.append(
                Finding(
                    JOB_TABLE,
                    "job_queue_policy",
                    f"policy {name} (FOR {command}, applies to {app}): " + "; ".join(problems),
                )
            )
    truncatable = conn.execute(
        text(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r' "
            "and c.relname like 'procrastinate\\_%' "
            "and exists (select 1 from pg_roles where rolname = :r) "
            "and has_table_privilege(:r, c.oid, 'TRUNCATE') order by 1"
        ),
        {"r": app},
    ).scalars()
    findings += [
        Finding(name, "job_queue_truncate", f"{app} may TRUNCATE it (TRUNCATE ignores RLS)")
        for name in truncatable
    ]
    return findings


def worker_scope_findings(conn: Connection, worker: str) -> list[Finding]:
    row = conn.execute(
        text("select rolsuper from pg_roles where rolname = :r"), {"r": worker}
    ).first()
    if row is None:
        return []
    findings: list[Finding] = []
    if row[0]:
        findings.append(Finding(f"(role {worker})", "worker_scope", "the worker role is superuser"))
    reachable = conn.execute(
        text(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S') "
            "and c.relname not like 'procrastinate\\_%' "
            "and (case when c.relkind = 'S' "
            "then has_sequence_privilege(:r, c.oid, 'USAGE, SELECT, UPDATE') "
            "else has_table_privilege(:r, c.oid, "
            "'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') end) "
            "order by 1"
        ),
        {"r": worker},
    ).scalars()
    findings += [
        Finding(
            name,
            "worker_scope",
            f"{worker} (BYPASSRLS, for the job queue) has a privilege on it: every tenant's "
            "rows would be readable",
        )
        for name in reachable
    ]
    return findings


def large_object_findings(conn: Connection, role: str) -> list[Finding]:
    allowed = [
        signature
        for signature in LARGE_OBJECT_WRITERS
        if conn.execute(
            text(
                "select to_regprocedure(:f) is not null "
                "and has_function_privilege(:r, to_regprocedure(:f), 'EXECUTE')"
            ),
            {"f": f"pg_catalog.{signature}", "r": role},
        ).scalar()
    ]
    if not allowed:
        return []
    return [
        Finding(
            f"(role {role})",
            "role_large_objects",
            "may create or write large objects (outside every table and policy): "
            + ", ".join(allowed),
        )
    ]


def temp_and_create_findings(conn: Connection, role: str) -> list[Finding]:
    findings: list[Finding] = []
    database_privileges = conn.execute(
        text(
            "select has_database_privilege(:r, current_database(), 'TEMPORARY'), "
            "has_database_privilege(:r, current_database(), 'CREATE')"
        ),
        {"r": role},
    ).one()
    if database_privileges[0]:
        findings.append(
            Finding(
                f"(role {role})",
                "role_temp",
                "has TEMPORARY on the database (temp tables, functions in pg_temp)",
            )
        )
    if database_privileges[1]:
        findings.append(
            Finding(f"(role {role})", "role_create", "may CREATE schemas in the database")
        )
    schemas = conn.execute(
        text(
            "select nspname from pg_namespace "
            "where nspname not like 'pg\\_%' and nspname <> 'information_schema' "
            "and has_schema_privilege(:r, oid, 'CREATE') order by 1"
        ),
        {"r": role},
    ).scalars()
    findings += [
        Finding(
            f"(role {role})",
            "role_create",
            f"may CREATE in schema {name} (tables, functions, types)",
        )
        for name in schemas
    ]
    return findings


def auth_findings(admin: Connection, roles: Sequence[str]) -> list[Finding] | None:
    """The server's password rules for ``roles`` (None: ``pg_hba_file_rules`` cannot be
    read by this connection — a managed server — and the rule is not checked).

    PostgreSQL uses the FIRST ``pg_hba.conf`` line whose type, database and user match,
    so for each role and connection type the first matching line must check a password
    (``scram-sha-256``, ``md5``, ``peer``/``cert``... anything but ``trust``/``password``).
    """
    try:
        rows = admin.execute(
            text(
                "select line_number, type, database, user_name, auth_method "
                "from pg_hba_file_rules where error is null order by line_number"
            )
        ).all()
        database = str(admin.execute(text("select current_database()")).scalar_one())
    except DBAPIError:
        return None
    findings: list[Finding] = []
    for role in roles:
        for kind in ("local", "host"):
            for line, rule_type, databases, users, method in rows:
                type_matches = rule_type == kind or (
                    kind == "host" and str(rule_type).startswith("host")
                )
                if not type_matches:
                    continue
                if not ({"all", database} & set(databases or ())):
                    continue
                if not ({"all", role} & set(users or ())):
                    continue
                if method in UNCHECKED_AUTH:
                    findings.append(
                        Finding(
                            f"(role {role})",
                            "role_password_unchecked",
                            f"pg_hba.conf line {line} lets {kind} connections in with "
                            f"{method}: its password is never checked",
                        )
                    )
                break
    return findings

"""Identity rules: what the app role may do with people's accounts (issue 8, finding 10).

Each rule is its own function over the live catalogue, so none can quietly come back:

* ``password_hash_readable`` — the app role may not SELECT ``users.password_hash``
  (sign-in goes through the definer functions; no digest ever leaves the database).
* ``platform_column_writable`` — nor INSERT/UPDATE ``users.is_superadmin``, nor UPDATE
  ``email``, ``id`` or ``created_at``; nor DELETE or TRUNCATE ``users``.
* ``users_rls`` — RLS enabled and forced on ``users``; every permissive policy is the
  pinned user's own row (``id = app.current_user_id``) or, FOR SELECT only, the members
  of the pinned tenant (an EXISTS on ``tenant_memberships`` keyed on
  ``app.current_tenant_id``). Anything else would show other tenants' people.
* ``user_table_rls`` — the per-user identity tables (``USER_TABLES``) have RLS enabled
  and forced, and every permissive policy is ``user_id = app.current_user_id``.
* ``definer_function`` — every ``SECURITY DEFINER`` function in ``public`` pins its
  ``search_path`` and is not executable by PUBLIC (a definer function runs as its owner,
  the migrator, which bypasses RLS).

The read policies of tenant tables (``member_self_read``) are checked with the tenant
rules (``rules.py``): an extra read policy must be bounded to the pinned tenant or apply
only when no tenant is pinned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Connection, text

from tenantry.audit.finding import Finding

USERS = "users"
# Global tables whose rows each belong to one user (RLS keyed on app.current_user_id).
USER_TABLES = ("user_sessions", "account_tokens")
PLATFORM_WRITES = (
    ("is_superadmin", "INSERT"),
    ("is_superadmin", "UPDATE"),
    ("email", "UPDATE"),
    ("id", "UPDATE"),
    ("created_at", "UPDATE"),
)
_ESCAPE = re.compile(r"\b(OR|COALESCE|CASE|NOT)\b|IS\s+NULL|<>|!=", re.I)
_SELF = re.compile(
    r"^\(*\s*id\s*=\s*\(*NULLIF\(current_setting\('app\.current_user_id'(::text)?, true\), "
    r"''(::text)?\)\)*::uuid\)*$",
    re.I,
)
_OWNER = re.compile(
    r"^\(*\s*user_id\s*=\s*\(*NULLIF\(current_setting\('app\.current_user_id'(::text)?, true\), "
    r"''(::text)?\)\)*::uuid\)*$",
    re.I,
)

_ROLE_SQL = text("select current_database() || '_app' as app_role")
_RELATION_SQL = text(
    """
    select c.relname, c.relrowsecurity, c.relforcerowsecurity
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind = 'r' and c.relname = any(:names)
    """
)
_POLICY_SQL = text(
    """
    select tablename, policyname, cmd, permissive = 'PERMISSIVE' as permissive, qual, with_check
    from pg_policies where schemaname = 'public' and tablename = any(:names)
    order by tablename, policyname
    """
)
_DEFINER_SQL = text(
    """
    select p.oid::regprocedure::text as signature,
           coalesce(array_to_string(p.proconfig, ','), '') as config,
           has_function_privilege('public', p.oid, 'EXECUTE') as public_execute
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.prosecdef
    order by 1
    """
)


def identity_findings(conn: Connection) -> list[Finding]:
    app_role = conn.execute(_ROLE_SQL).scalar_one()
    exists = conn.execute(
        text("select 1 from pg_roles where rolname = :r"), {"r": app_role}
    ).first()
    findings: list[Finding] = []
    if exists is not None:
        findings += password_hash_readable(conn, app_role)
        findings += platform_column_writable(conn, app_role)
    findings += users_rls(conn)
    findings += user_table_rls(conn)
    findings += definer_function(conn)
    return findings


def _has_users(conn: Connection) -> bool:
    return conn.execute(_RELATION_SQL, {"names": [USERS]}).first() is not None


def password_hash_readable(conn: Connection, app_role: str) -> list[Finding]:
    if not _has_users(conn):
        return []
    readable = conn.execute(
        text("select has_column_privilege(:r, 'public.users', 'password_hash', 'SELECT')"),
        {"r": app_role},
    ).scalar_one()
    if not readable:
        return []
    return [
        Finding(
            USERS,
            "password_hash_readable",
            f"{app_role} may SELECT users.password_hash (sign-in needs only the definer "
            "functions; a readable hash can be taken away and cracked)",
        )
    ]


def platform_column_writable(conn: Connection, app_role: str) -> list[Finding]:
    if not _has_users(conn):
        return []
    found: list[Finding] = []
    for column, privilege in PLATFORM_WRITES:
        allowed = conn.execute(
            text("select has_column_privilege(:r, 'public.users', :c, :p)"),
            {"r": app_role, "c": column, "p": privilege},
        ).scalar_one()
        if allowed:
            found.append(
                Finding(
                    USERS,
                    "platform_column_writable",
                    f"{app_role} may {privilege} users.{column} (a platform column)",
                )
            )
    for privilege in ("DELETE", "TRUNCATE"):
        allowed = conn.execute(
            text("select has_table_privilege(:r, 'public.users', :p)"),
            {"r": app_role, "p": privilege},
        ).scalar_one()
        if allowed:
            found.append(
                Finding(USERS, "platform_column_writable", f"{app_role} may {privilege} users")
            )
    return found


def _rls_findings(conn: Connection, tables: Iterable[str], rule: str) -> list[Finding]:
    found: list[Finding] = []
    for name, enabled, forced in conn.execute(_RELATION_SQL, {"names": list(tables)}):
        if not enabled:
            found.append(Finding(name, rule, "row-level security is not enabled"))
        elif not forced:
            found.append(Finding(name, rule, "row-level security is not forced"))
    return found


def _member_read(policy_cmd: str, using: str | None) -> bool:
    """FOR SELECT, an EXISTS over the pinned tenant's memberships, nothing else."""
    if policy_cmd != "SELECT" or using is None:
        return False
    bare = using.replace("\n", " ")
    return (
        bool(re.match(r"^\(*\s*EXISTS\s*\(", bare, re.I))
        and "tenant_memberships" in bare
        and "app.current_tenant_id" in bare
        and "users.id" in bare
        and not _ESCAPE.search(bare)
    )


def users_rls(conn: Connection) -> list[Finding]:
    if not _has_users(conn):
        return []
    found = _rls_findings(conn, [USERS], "users_rls")
    for _, name, cmd, permissive, using, check in conn.execute(_POLICY_SQL, {"names": [USERS]}):
        if not permissive:
            continue  # restrictive policies only narrow
        is_self = all(e is None or _SELF.match(e.strip()) for e in (using, check)) and bool(
            using or check
        )
        if is_self or _member_read(cmd, using):
            continue
        found.append(
            Finding(
                USERS,
                "users_rls",
                f"policy {name} (FOR {cmd}) is neither the pinned user's own row nor a read "
                "of the pinned tenant's members: it shows or lets change other people",
            )
        )
    return found


def user_table_rls(conn: Connection) -> list[Finding]:
    found = _rls_findings(conn, USER_TABLES, "user_table_rls")
    for table, name, cmd, permissive, using, check in conn.execute(
        _POLICY_SQL, {"names": list(USER_TABLES)}
    ):
        if not permissive:
            continue
        if all(e is None or _OWNER.match(e.strip()) for e in (using, check)) and (using or check):
            continue
        found.append(
            Finding(
                table,
                "user_table_rls",
                f"policy {name} (FOR {cmd}) is not user_id = app.current_user_id",
            )
        )
    return found


def definer_function(conn: Connection) -> list[Finding]:
    found: list[Finding] = []
    for signature, config, public_execute in conn.execute(_DEFINER_SQL):
        where = f"(function {signature})"
        if "search_path=" not in config:
            found.append(
                Finding(
                    where,
                    "definer_function",
                    "SECURITY DEFINER without a fixed search_path: a caller's own schema "
                    "objects could run with the owner's rights",
                )
            )
        if public_execute:
            found.append(
                Finding(where, "definer_function", "SECURITY DEFINER executable by PUBLIC")
            )
    return found

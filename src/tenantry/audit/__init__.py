"""``tenantry audit schema``: check wall 5 against the LIVE catalogue.

It reads the database, never a schema file or the models: those can say one thing
while the database says another (a hand-applied hotfix, a migration
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

An extra read policy must also be unable to reach past the pinned tenant: one of its
top-level conjuncts is the strict tenant predicate, or it applies only when no tenant is
pinned (``... IS NULL``), else ``read_policy_crosses_tenants``.

Identity (``identity.py``): the app role may not read ``users.password_hash``, write
``is_superadmin``/``email``/``id``, delete from ``users``; ``users`` and the per-user
tables have forced RLS with only the expected policies; every ``SECURITY DEFINER``
function pins its ``search_path`` and is not executable by PUBLIC.

Every other table must be declared global (``GLOBAL_TABLES`` / ``GLOBAL_PREFIXES``).
Views must be ``security_invoker`` unless declared global: a plain view runs as its
owner, the migrator, which has BYPASSRLS — it would serve every tenant's rows.
The app role itself must not be superuser, have BYPASSRLS, or own relations here.
The privilege rules (``audit.privileges``) check what the app and worker roles may do
beyond their tables: ``alembic_version``, the job queue's RLS, large objects, TEMPORARY,
CREATE, and (with the admin connection) that the server checks their passwords.

The audit's queries only read, and it does not migrate first: it reports the database
as it is. (The command opens the database through ``prepare_database`` like every other
command, and that step is idempotent but not read-only: it creates missing roles and the
database and re-applies the roles' attributes; passwords are set only when a role is created.)
"""

from tenantry.audit.cli import audit_app, format_table
from tenantry.audit.finding import Finding
from tenantry.audit.rules import (
    GLOBAL_PREFIXES,
    GLOBAL_TABLES,
    is_declared_global,
    strict_tenant_problem,
)
from tenantry.audit.run import audit_schema

__all__ = [
    "GLOBAL_PREFIXES",
    "GLOBAL_TABLES",
    "Finding",
    "audit_app",
    "audit_schema",
    "format_table",
    "is_declared_global",
    "strict_tenant_problem",
]

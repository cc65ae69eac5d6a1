"""Job queue: procrastinate's tables, functions and triggers, usable by the app role.

The schema is procrastinate's own ``schema.sql`` as shipped by the installed package
(pinned ``procrastinate>=3.10,<4`` in pyproject): procrastinate vouches for it, and a
fresh database always matches the library the worker runs. Upgrading procrastinate
across a schema change needs a NEW migration that applies its ``sql/migrations/*``
files between the two versions — never an edit here.

The tables are global (``procrastinate_`` is a declared global prefix in
``tenantry audit schema``): a job is not a tenant's row, it *carries* its tenant as an
argument and the job runner re-enters that tenant's context before the task body runs
(``tenantry.jobs``), so every row a task touches is still under the guard and RLS.

The app role defers jobs inside its request transaction and runs the worker, so it
needs DML on the tables, the sequences, and EXECUTE on the functions (PostgreSQL
grants EXECUTE and type USAGE to PUBLIC by default; granted explicitly anyway so a
hardened ``REVOKE ... FROM PUBLIC`` does not break the worker). Never TRUNCATE.
"""

from __future__ import annotations

from procrastinate.schema import SchemaManager

from tenantry.migrations.ddl import (
    job_relation_grants,
    job_routine_grants,
    run_driver_sql,
    with_roles,
)

revision = "20261127_0003"
down_revision = "20261127_0002"

_GRANTS = with_roles(job_relation_grants("app_role") + job_routine_grants("app_role"))

_DROP = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname LIKE 'procrastinate\\_%' AND c.relkind = 'r'
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.relname);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.signature);
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate\\_%'
               AND t.typtype IN ('e', 'c')
    LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
    END LOOP;
END $$;
"""


def upgrade() -> None:
    run_driver_sql(SchemaManager.get_schema())
    run_driver_sql(_GRANTS)


def downgrade() -> None:
    run_driver_sql(_DROP)

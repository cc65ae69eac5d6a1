"""DDL the revisions repeat: the tenant table shape, app-role grants, owner policies and
the job queue's grants.

A revision is frozen once it ships, so a helper here must keep emitting exactly the
SQL it emitted when the revisions that call it were written: change what a helper
sends and every database migrated before and after differs. New needs get new
helpers (or parameters whose default keeps the old text).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.schema import SchemaItem

from tenantry.isolation.rls import USER_SETTING, create_tenant_table

# The app role of the current database, as a SQL expression (``db.bootstrap`` names it).
APP_ROLE = "current_database() || '_app'"


def as_app(sql: str) -> None:
    """Run ``sql`` with ``%I`` replaced by the app role's name (role names are per
    database, so a revision cannot spell them out)."""
    op.execute(f"DO $$ BEGIN EXECUTE format('{sql}', {APP_ROLE}); END $$")


def force_rls(table: str) -> None:
    """ENABLE and FORCE row-level security (FORCE: the table's owner is bound too)."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def owner_policy(table: str, policy: str, column: str = "user_id") -> None:
    """A user's own rows only: ``column`` is the user pinned in the transaction, for
    reading and writing alike."""
    op.execute(
        f"CREATE POLICY {policy} ON {table} FOR ALL "
        f"USING ({column} = {USER_SETTING}) WITH CHECK ({column} = {USER_SETTING})"
    )


def run_driver_sql(sql: str) -> None:
    """Driver-level: no ``:name`` bind parsing; ``%`` doubled as procrastinate's own
    ``apply_schema`` does (the driver still reads pyformat placeholders)."""
    op.get_bind().exec_driver_sql(sql.replace("%", "%%"))


# --- Tenant-owned tables -----------------------------------------------------------


def now() -> sa.TextClause:
    return sa.text("now()")


def created_at() -> sa.Column[Any]:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=now(), nullable=False)


def timestamps() -> list[sa.Column[Any]]:
    return [
        created_at(),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=now(), nullable=False),
    ]


def uuid(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.Uuid(), nullable=nullable)


def jsonb(name: str) -> sa.Column[Any]:
    return sa.Column(name, JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False)


def tenant_columns() -> list[sa.Column[Any]]:
    """A tenant-owned table's first two columns: ``tenant_id`` and ``id``."""
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
    ]


def tenant_key(table: str) -> list[SchemaItem]:
    """Its ``(tenant_id, id)`` primary key and the foreign key to its tenant.

    SQLAlchemy writes a table's constraints in the order they were built, so a
    revision that declares more after these calls this where they stand."""
    return [
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE", name=f"fk_{table}_tenant_id_tenants"
        ),
    ]


def tenant_table(table: str, *items: SchemaItem) -> None:
    """A tenant-owned table: tenant column, (tenant_id, id) key, tenant FK, policy."""
    create_tenant_table(op, table, *tenant_columns(), *items, *tenant_key(table))


# --- The job queue (procrastinate's objects in ``public``) -------------------------


def with_roles(body: str, *, worker: bool = False) -> str:
    """An anonymous PL/pgSQL block around ``body`` with the role names in variables
    (``app_role``, and ``worker_role`` if asked) and a loop record ``r``."""
    roles = "    app_role text := current_database() || '_app';\n"
    if worker:
        roles += "    worker_role text := current_database() || '_worker';\n"
    return f"\nDO $$\nDECLARE\n{roles}    r record;\nBEGIN\n{body}END $$;\n"


_RELATIONS = """\
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname LIKE 'procrastinate\\_%'
               AND c.relkind IN ('r', 'S')
    LOOP
"""


def job_relation_grants(role: str, *, first: str = "") -> str:
    """PL/pgSQL: DML on the queue's tables, USAGE/SELECT/UPDATE on its sequences, to
    the role in variable ``role`` (``first``: a statement run on each one before)."""
    return (
        _RELATIONS
        + first
        + f"""\
        IF r.relkind = 'r' THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO %I',
                           r.relname, {role});
        ELSE
            EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %I TO %I',
                           r.relname, {role});
        END IF;
    END LOOP;
"""
    )


def job_routine_grants(role: str) -> str:
    """PL/pgSQL: EXECUTE on the queue's functions and USAGE on its types, to the role
    in variable ``role``."""
    # S608: ``role`` is a PL/pgSQL variable name chosen by the revision, never input.
    return f"""\
    FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate\\_%'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', r.signature, {role});
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate\\_%'
               AND t.typtype IN ('e', 'c')
    LOOP
        EXECUTE format('GRANT USAGE ON TYPE %I TO %I', r.typname, {role});
    END LOOP;
"""  # noqa: S608

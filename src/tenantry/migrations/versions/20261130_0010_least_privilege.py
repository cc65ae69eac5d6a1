"""Least privilege: alembic_version is the migrator's; the job queue is the worker's,
and the app sees only its tenant's jobs.

Issue 8, finding 10: the app role could delete ``alembic_version`` and read and write
every tenant's job arguments.

* ``alembic_version``: every privilege of the app role revoked (the migrator's default
  privileges had granted it DML like any table).
* The job queue (procrastinate's tables) belongs to ``<db>_worker`` (created by
  ``db.bootstrap``): DML on the tables, the sequences, EXECUTE on the functions.
* The app role keeps only what deferring and cancelling in a request need: SELECT,
  INSERT, UPDATE on ``procrastinate_jobs`` (no DELETE), INSERT on ``procrastinate_events``
  (procrastinate's triggers record every status change, as the invoking role), and the
  two sequences. Nothing on the workers and periodic-defer tables.
* ``procrastinate_jobs`` gets row-level security, ENABLEd and FORCEd, with one policy
  (for every role, so no role name is baked into the schema): a row is visible and
  writable only when its ``args->>'tenant_id'`` is the transaction's tenant (no tenant
  set: no rows). The worker role has BYPASSRLS (``db.bootstrap``) — it must run every
  tenant's jobs — and privileges on nothing but the queue, so that reaches no tenant
  data; task bodies run as the app role in their tenant. ``tenantry audit schema``
  checks all of this (``job_queue_*`` and ``worker_scope`` rules).

Why RLS and not only a separate role: jobs are deferred in the request's own
transaction (so a job exists iff the request's rows commit), which needs the app role
to insert them; RLS keeps that insert — and any read — to the caller's tenant.
"""

from __future__ import annotations

from tenantry.migrations.ddl import (
    job_relation_grants,
    job_routine_grants,
    run_driver_sql,
    with_roles,
)

revision = "20261130_0010"
down_revision = "20261130_0009"

TENANT_ARG = "(args ->> 'tenant_id')"
TENANT_SETTING = "current_setting('app.current_tenant_id', true)"
JOB_OF_TENANT = f"{TENANT_ARG} = {TENANT_SETTING}"
_REVOKE_FROM_APP = "        EXECUTE format('REVOKE ALL ON %I FROM %I', r.relname, app_role);\n"

_UPGRADE = with_roles(
    f"""\
    EXECUTE format('REVOKE ALL ON TABLE alembic_version FROM %I', app_role);

{job_relation_grants("worker_role", first=_REVOKE_FROM_APP)}{job_routine_grants("worker_role")}
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON TABLE procrastinate_jobs TO %I', app_role);
    EXECUTE format('GRANT INSERT ON TABLE procrastinate_events TO %I', app_role);
    EXECUTE format('GRANT USAGE ON SEQUENCE procrastinate_jobs_id_seq TO %I', app_role);
    EXECUTE format('GRANT USAGE ON SEQUENCE procrastinate_events_id_seq TO %I', app_role);

    ALTER TABLE procrastinate_jobs ENABLE ROW LEVEL SECURITY;
    ALTER TABLE procrastinate_jobs FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS tenant_jobs ON procrastinate_jobs;
    CREATE POLICY tenant_jobs ON procrastinate_jobs FOR ALL
        USING ({JOB_OF_TENANT}) WITH CHECK ({JOB_OF_TENANT});
""",
    worker=True,
)

_DOWNGRADE = with_roles(
    f"""\
    DROP POLICY IF EXISTS tenant_jobs ON procrastinate_jobs;
    ALTER TABLE procrastinate_jobs NO FORCE ROW LEVEL SECURITY;
    ALTER TABLE procrastinate_jobs DISABLE ROW LEVEL SECURITY;
{job_relation_grants("app_role")}    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE alembic_version TO %I',
                   app_role);
"""
)


def upgrade() -> None:
    run_driver_sql(_UPGRADE)


def downgrade() -> None:
    run_driver_sql(_DOWNGRADE)

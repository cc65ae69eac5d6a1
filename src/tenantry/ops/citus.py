"""Turning a migrated Tenantry database on a Citus coordinator into a distributed one.

The plan comes from ``ops.audit.citus`` (the same classification the ``--citus`` audit
checks): every tenant-owned table is hash-distributed on ``tenant_id`` and colocated
with the others (a tenant's rows of every table live in one shard group, so every
query the ORM guard pins to a tenant is routed to one node), the declared global tables
become reference tables (a copy on every node), and Alembic's and the job queue's
tables stay on the coordinator.

Citus refuses to convert a table while a table it does not hold yet has a foreign key
to it (and the other way round), so the foreign keys that touch a table being converted
are dropped, the tables converted (referenced tables first), and the keys restored from
their own definitions (``pg_get_constraintdef``) — all in ONE transaction, in Citus's
sequential mode (DDL on reference and distributed tables in one transaction needs it):
it happens completely or not at all. Tables Citus already holds are skipped, so the
command can be run again after a migration that adds a table.

One policy is rewritten on the way: Citus refuses a subquery in a policy of a table it
holds, reference tables included, and ``users.user_tenant_member_read`` (the app role
reads the pinned tenant's members; migration ``20261130_0013``) is an ``EXISTS`` over
``tenant_memberships``. On Citus it becomes ``user_read_while_pinned``: with a tenant
pinned the app role reads every account's name and address (never a password hash —
that is a column privilege, which Citus keeps; nor can it write anyone else's row), with
no tenant pinned still only its own row. ``tenantry audit schema`` reports it
(``users_rls``): a weaker wall than on one node, stated rather than hidden.

Finally two settings:

* ``citus.propagate_set_commands = 'local'`` on the database: the transaction's ``SET
  LOCAL`` of the tenant (``tenantry.isolation.pin``) then reaches the worker nodes,
  where the RLS policies of the shards read it. (``set_config`` is never propagated:
  with it, a worker's shards would show the app role nothing.)
* ``citus.skip_advisory_lock_permission_checks = on`` for the app role only: Citus
  serialises every write to a reference table (``users``) by taking a lock, on the first
  worker, on the reference tables it points to (``tenants``), and checks that the writer
  could itself modify them. The app role deliberately cannot write ``tenants``; rather
  than grant it that, it may take Citus's internal lock (which guards nothing but the
  ordering of writes). Set by a superuser, per role; Citus applies it on every node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from tenantry.audit.citus import TENANT_COLUMN, citus_findings, citus_plan
from tenantry.audit.finding import Finding

Say = Callable[[str], None]


class CitusError(Exception):
    """Distribution cannot proceed; the message says why and what to do."""


@dataclass
class Distribution:
    reference: list[str] = field(default_factory=list)
    distributed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already held by Citus
    local: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


_FK_EDGES = """
select c.relname as child, p.relname as parent
from pg_constraint con
join pg_class c on c.oid = con.conrelid join pg_class p on p.oid = con.confrelid
join pg_namespace ns on ns.oid = c.relnamespace
where con.contype = 'f' and ns.nspname = 'public' and c.oid <> p.oid
"""


def _in_fk_order(conn: Connection, tables: list[str]) -> list[str]:
    """``tables`` with every table after the tables it references (stable otherwise)."""
    wanted = set(tables)
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(text(_FK_EDGES)):
        if child in wanted and parent in wanted:
            parents[child].add(parent)
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in placed and parents[t] <= placed]
        if not ready:
            cycle = sorted(set(tables) - placed)
            raise CitusError(f"foreign keys form a cycle among {', '.join(cycle)}")
        ordered += ready
        placed.update(ready)
    return ordered


def citus_version(conn: Connection) -> str | None:
    version = conn.execute(text("select extversion from pg_extension where extname = 'citus'"))
    return version.scalar()


_FOREIGN_KEYS = """
select con.conname, c.relname as child, p.relname as parent,
       pg_get_constraintdef(con.oid) as definition
from pg_constraint con
join pg_class c on c.oid = con.conrelid join pg_class p on p.oid = con.confrelid
join pg_namespace ns on ns.oid = c.relnamespace
where con.contype = 'f' and ns.nspname = 'public'
order by c.relname, con.conname
"""


# users.user_tenant_member_read (an EXISTS: refused by Citus) → a policy without one.
CITUS_USERS_READ = (
    "CREATE POLICY user_read_while_pinned ON users FOR SELECT "
    "USING (NULLIF(current_setting('app.current_tenant_id', true), '') IS NOT NULL)"
)


def _citus_users_policy(conn: Connection, say: Say) -> None:
    member_read = conn.execute(
        text(
            "select 1 from pg_policies where schemaname = 'public' and tablename = 'users' "
            "and policyname = 'user_tenant_member_read'"
        )
    ).first()
    if member_read is None:
        return
    conn.execute(text("DROP POLICY user_tenant_member_read ON users"))
    conn.execute(text(CITUS_USERS_READ))
    say("policy            users.user_tenant_member_read -> user_read_while_pinned (no subquery)")


def _quoted(conn: Connection, name: str) -> str:
    """An identifier quoted by the server's own ``quote_ident``."""
    return str(conn.execute(text("select quote_ident(:n)"), {"n": name}).scalar_one())


def distribute(
    conn: Connection, *, app_role: str, shard_count: int = 32, say: Say = print
) -> Distribution:
    """Distribute the database behind ``conn`` (a superuser's connection to the
    coordinator, not in a transaction). Refuses while ``tenantry audit schema --citus``
    has findings (returned in ``findings``, nothing changed)."""
    if citus_version(conn) is None:
        raise CitusError(
            "Citus is not installed in this database: on the coordinator, with citus in "
            "shared_preload_libraries, run CREATE EXTENSION citus (see docs/scaling.md)"
        )
    result = Distribution(findings=citus_findings(conn))
    if result.findings:
        conn.rollback()
        return result
    plan = citus_plan(conn)
    result.local = plan["local"]
    held = {
        name
        for (name,) in conn.execute(
            text("select logicalrelid::regclass::text from pg_dist_partition")
        )
    }
    references = [t for t in _in_fk_order(conn, plan["reference"]) if t not in held]
    distributed_order = _in_fk_order(conn, plan["distributed"])
    anchor = next((t for t in distributed_order if t in held), None)
    to_distribute = [t for t in distributed_order if t not in held]
    result.skipped = [t for t in [*plan["reference"], *plan["distributed"]] if t in held]
    converting = set(references) | set(to_distribute)
    keys = [
        row
        for row in conn.execute(text(_FOREIGN_KEYS))
        if converting & {row.child, row.parent} and row.child not in plan["local"]
    ]
    conn.commit()  # the reads above; the conversion is one transaction of its own
    with conn.begin():
        conn.execute(text("set local citus.multi_shard_modify_mode to 'sequential'"))
        for key in keys:
            conn.execute(
                text(
                    f"alter table {_quoted(conn, key.child)} drop constraint "
                    f"{_quoted(conn, key.conname)}"
                )
            )
        if "users" in references:
            _citus_users_policy(conn, say)
        for table in references:
            say(f"reference table   {table}")
            conn.execute(text("select create_reference_table(:t)"), {"t": table})
            result.reference.append(table)
        for table in to_distribute:
            say(f"distributed table {table} (by {TENANT_COLUMN})")
            if anchor is None:
                conn.execute(
                    text(
                        "select create_distributed_table(:t, :col, colocate_with => 'none',"
                        " shard_count => :n)"
                    ),
                    {"t": table, "col": TENANT_COLUMN, "n": shard_count},
                )
                anchor = table
            else:
                conn.execute(
                    text("select create_distributed_table(:t, :col, colocate_with => :a)"),
                    {"t": table, "col": TENANT_COLUMN, "a": anchor},
                )
            result.distributed.append(table)
        for key in keys:
            # The definition is the server's own rendering of a key it already held.
            conn.execute(
                text(
                    f"alter table {_quoted(conn, key.child)} add constraint "
                    f"{_quoted(conn, key.conname)} {key.definition}"
                )
            )
        if keys:
            say(f"foreign keys      {len(keys)} restored")
    database = _quoted(conn, conn.execute(text("select current_database()")).scalar_one())
    conn.execute(text(f"alter database {database} set citus.propagate_set_commands = 'local'"))
    conn.execute(
        text(
            f"alter role {_quoted(conn, app_role)}"
            " set citus.skip_advisory_lock_permission_checks = on"
        )
    )
    conn.commit()
    say("citus.propagate_set_commands = 'local' (new sessions pin the tenant on every node)")
    say(f"citus.skip_advisory_lock_permission_checks = on for {app_role} (reference writes)")
    return result

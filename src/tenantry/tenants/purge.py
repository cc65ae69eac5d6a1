"""``tenantry tenant purge SLUG --confirm SLUG``: delete a tenant, then prove it.

1. The tenant is marked ``archived`` (every request refused from then on) and a
   ``tenant.purge_started`` entry records a fingerprint of every OTHER tenant's rows:
   per table, a count and an order-independent checksum (the sum of a 64-bit slice of
   each row's MD5 — any changed byte of any row changes it).
2. Rows go table by table, children before parents, in committed batches; then the
   tenant's pending jobs and its upload folder.
3. Verification: zero rows with the tenant's id in every tenant table (read from the
   catalogue, not a list) and no files under its prefix. Only then is the ``tenants``
   row deleted and ``tenant.purged`` recorded with the report, which also shows the
   other tenants' fingerprint before and after (equal on a quiet database; on a live
   server their own work changes it, so it is reported rather than required).

Interrupted anywhere, the same command resumes: deleting is idempotent, the tenant
row is the last thing to go, and the fingerprint taken before the first attempt is
read back from the audit log. Fingerprinting reads the whole database (that is what
"the others are unchanged" means); deleting touches only the tenant's rows.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import select

from tenantry.db.engine import Database
from tenantry.errors import InternalError, InvalidInput
from tenantry.isolation.context import dangerously_enter_system_scope
from tenantry.tenants import audit_log
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.catalogue import TenantTable, row_counts, tenant_tables
from tenantry.tenants.export import Progress, migrator_connection, tenant_files
from tenantry.tenants.models import AuditEntry

BATCH = 5000


class ConfirmationMismatch(InvalidInput):
    code = "confirmation_mismatch"
    message = "Type the tenant's slug after --confirm to purge it."


class PurgeNotVerified(InternalError):
    code = "purge_not_verified"
    message = "The purge did not verify."


@dataclass
class PurgeReport:
    tenant_id: uuid.UUID
    slug: str
    resumed: bool
    deleted: dict[str, int] = field(default_factory=dict)
    remaining: dict[str, int] = field(default_factory=dict)  # must all be 0
    files_deleted: int = 0
    files_remaining: int = 0
    jobs_deleted: int = 0
    others_before: dict[str, list[Any]] = field(default_factory=dict)  # table: [rows, sum]
    others_after: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def others_unchanged(self) -> bool:
        return self.others_before == self.others_after

    @property
    def verified(self) -> bool:
        """Nothing of the tenant is left. (Other tenants' fingerprint is reported, not
        required: on a live server they keep working during the purge.)"""
        return not any(self.remaining.values()) and self.files_remaining == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": str(self.tenant_id),
            "slug": self.slug,
            "resumed": self.resumed,
            "deleted": self.deleted,
            "remaining": self.remaining,
            "files_deleted": self.files_deleted,
            "files_remaining": self.files_remaining,
            "jobs_deleted": self.jobs_deleted,
            "others_unchanged": self.others_unchanged,
            "others_after": self.others_after,
        }


def fingerprint_others(
    conn: psycopg.Connection, tables: list[TenantTable], tid: uuid.UUID
) -> dict[str, list[Any]]:
    """Per table: [rows, checksum] over every row NOT of ``tid``."""
    out: dict[str, list[Any]] = {}
    for table in tables:
        query = sql.SQL(
            "select count(*), "
            "coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0) "
            "from {} t where t.tenant_id <> %s"
        ).format(table.ident())
        rows, checksum = conn.execute(query, (tid,)).fetchone()  # type: ignore[misc]
        out[table.name] = [int(rows), str(checksum)]
    return out


def purge_tenant(
    db: Database,
    *,
    slug: str,
    confirm: str,
    upload_dir: Path,
    actor: Actor,
    reason: str = "tenant purge",
    progress: Progress | None = None,
    stop_after_tables: int | None = None,  # tests: simulate an interruption
) -> PurgeReport:
    if confirm.strip().lower() != slug.strip().lower():
        raise ConfirmationMismatch()
    progress = progress or Progress()
    with dangerously_enter_system_scope(reason=f"purge tenant {slug}"):
        tid, slug, resumed, before = _start(db, slug=slug, actor=actor, reason=reason)
        report = PurgeReport(tid, slug, resumed, others_before=before)
        with migrator_connection(db) as conn:
            tables = tenant_tables(conn)
            counts = row_counts(conn, tables, tid)
            conn.commit()
            progress.start(sum(counts.values()), f"purge {slug}")
            for done, table in enumerate(reversed(tables)):
                if stop_after_tables is not None and done >= stop_after_tables:
                    raise KeyboardInterrupt("stopped for the test")
                report.deleted[table.name] = _delete_rows(conn, table, tid, progress)
            report.jobs_deleted = _delete_jobs(conn, tid)
            report.files_deleted = _delete_files(upload_dir, tid)
            report.remaining = row_counts(conn, tables, tid)
            report.files_remaining = len(tenant_files(upload_dir, tid))
            report.others_after = fingerprint_others(conn, tables, tid)
            conn.commit()
        if not report.verified:
            raise PurgeNotVerified(
                f"Purge of {slug} did not verify: remaining rows "
                f"{ {k: v for k, v in report.remaining.items() if v} }, files "
                f"{report.files_remaining}. "
                "Run the same command again to resume."
            )
        _finish(db, report, actor=actor, reason=reason)
    return report


def _start(
    db: Database, *, slug: str, actor: Actor, reason: str
) -> tuple[uuid.UUID, str, bool, dict[str, list[Any]]]:
    """Stop the tenant and take (or read back) the fingerprint of the others."""
    with db.system_session(reason=f"purge tenant {slug}") as session:
        from tenantry.tenants.lifecycle import find_tenant

        tenant = find_tenant(session, slug)
        started = session.scalar(
            select(AuditEntry)
            .where(AuditEntry.target_tenant_id == tenant.id)
            .where(AuditEntry.action == "tenant.purge_started")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        if started is not None and tenant.status == "archived":
            return tenant.id, tenant.slug, True, dict(started.details["others"])
        tenant.status = "archived"
        session.flush()
        conn = session.connection().connection.driver_connection
        assert isinstance(conn, psycopg.Connection)
        before = fingerprint_others(conn, tenant_tables(conn), tenant.id)
        audit_log.record(
            session,
            actor=actor,
            action="tenant.purge_started",
            reason=reason,
            tenant_id=tenant.id,
            slug=tenant.slug,
            details={"others": before},
        )
        return tenant.id, tenant.slug, False, before


def _delete_rows(
    conn: psycopg.Connection, table: TenantTable, tid: uuid.UUID, progress: Progress
) -> int:
    """Delete in committed batches (short locks while a server runs; resumable)."""
    key = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
    query = sql.SQL(
        "delete from {t} where ({key}) in (select {key} from {t} where tenant_id = %s limit %s)"
    ).format(t=table.ident(), key=key)
    total = 0
    while True:
        deleted = conn.execute(query, (tid, BATCH)).rowcount
        conn.commit()
        total += deleted
        progress.advance(deleted)
        if deleted < BATCH:
            return total


def _delete_jobs(conn: psycopg.Connection, tid: uuid.UUID) -> int:
    """Queued jobs of the tenant (they carry it in their arguments; see jobs)."""
    deleted = conn.execute(
        "delete from procrastinate_jobs where args->>'tenant_id' = %s and status = 'todo'",
        (str(tid),),
    ).rowcount
    conn.commit()
    return deleted


def _delete_files(upload_dir: Path, tid: uuid.UUID) -> int:
    count = len(tenant_files(upload_dir, tid))
    shutil.rmtree(upload_dir / str(tid), ignore_errors=True)
    return count


def _finish(db: Database, report: PurgeReport, *, actor: Actor, reason: str) -> None:
    from tenantry.db.tenant import Tenant

    with db.system_session(reason=f"purge tenant {report.slug}") as session:
        tenant = session.get(Tenant, report.tenant_id)
        if tenant is not None:
            session.delete(tenant)
        audit_log.record(
            session,
            actor=actor,
            action="tenant.purged",
            reason=reason,
            tenant_id=report.tenant_id,
            slug=report.slug,
            details=report.as_dict(),
        )

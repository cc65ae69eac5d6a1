"""What a platform operator may see and do across tenants — each call audited first.

The entry is committed BEFORE the data is read, in its own transaction: an access
that fails halfway is still on record. Reads run as the migrator (BYPASSRLS) inside a
named system scope; the app role could not read another tenant's rows at all.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import select

from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.errors import NotFound
from tenantry.isolation.context import dangerously_enter_system_scope
from tenantry.operator.schemas import TableCount, TenantSummary
from tenantry.tenants import audit_log
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.catalogue import row_counts, tenant_tables
from tenantry.tenants.export import migrator_connection, tenant_files
from tenantry.tenants.models import AuditEntry
from tenantry.tenants.rowsql import pin_session, select_lines

MAX_ROWS = 500


class NoSuchTable(NotFound):
    code = "table_not_found"
    message = "No tenant table of that name."


def _audit(
    db: Database,
    *,
    actor: Actor,
    action: str,
    reason: str,
    tenant: Tenant | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    with db.session() as session:  # the app role may append, nothing more
        audit_log.record(
            session,
            actor=actor,
            action=action,
            reason=audit_log.require_reason(reason),
            tenant_id=tenant.id if tenant else None,
            slug=tenant.slug if tenant else None,
            details=details,
        )


def _tenant(db: Database, slug: str) -> Tenant:
    with db.session() as session:  # tenants is a global table the app may read
        tenant = session.scalar(select(Tenant).where(Tenant.slug == slug.strip().lower()))
    if tenant is None:
        raise NotFound(f"No tenant with the slug {slug!r}.")
    return tenant


def _sizes(conn: psycopg.Connection, upload_dir: Any) -> dict[uuid.UUID, int]:
    rows: dict[uuid.UUID, int] = {}
    for table in tenant_tables(conn):
        query = sql.SQL("select tenant_id, count(*) from {} group by tenant_id").format(
            table.ident()
        )
        for tid, count in conn.execute(query):
            rows[tid] = rows.get(tid, 0) + int(count)
    return rows


def _summary(tenant: Tenant, rows: int, upload_dir: Any) -> TenantSummary:
    files = tenant_files(upload_dir, tenant.id)
    return TenantSummary(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        status=tenant.status,
        created_at=tenant.created_at,
        rows=rows,
        files=len(files),
        file_bytes=sum(f.stat().st_size for f in files),
    )


def list_tenants(
    db: Database, *, actor: Actor, reason: str, upload_dir: Any
) -> list[TenantSummary]:
    """Every tenant with its status and size (rows across tenant tables, files)."""
    _audit(db, actor=actor, action="operator.tenants_listed", reason=reason)
    with dangerously_enter_system_scope(reason=f"operator list: {reason}"):
        with migrator_connection(db) as conn:
            sizes = _sizes(conn, upload_dir)
        with db.system_session(reason="operator list") as session:
            tenants = list(session.scalars(select(Tenant).order_by(Tenant.slug)))
    return [_summary(t, sizes.get(t.id, 0), upload_dir) for t in tenants]


def tenant_detail(
    db: Database, *, slug: str, actor: Actor, reason: str, upload_dir: Any
) -> tuple[TenantSummary, list[TableCount]]:
    tenant = _tenant(db, slug)
    _audit(db, actor=actor, action="operator.tenant_read", reason=reason, tenant=tenant)
    with (
        dangerously_enter_system_scope(reason=f"operator read {tenant.slug}: {reason}"),
        migrator_connection(db) as conn,
    ):
        counts = [
            TableCount(table=name, rows=rows)
            for name, rows in row_counts(conn, tenant_tables(conn), tenant.id).items()
        ]
    return _summary(tenant, sum(c.rows for c in counts), upload_dir), counts


def read_rows(
    db: Database,
    *,
    slug: str,
    table: str,
    actor: Actor,
    reason: str,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rows of one tenant table, in key order, for support. Audited with the table and
    the page read."""
    import json

    tenant = _tenant(db, slug)
    limit = max(1, min(limit, MAX_ROWS))
    offset = max(0, offset)
    with migrator_connection(db) as conn:
        found = next((t for t in tenant_tables(conn) if t.name == table), None)
    if found is None:
        raise NoSuchTable()
    _audit(
        db,
        actor=actor,
        action="operator.rows_read",
        reason=reason,
        tenant=tenant,
        details={"table": table, "limit": limit, "offset": offset},
    )
    with (
        dangerously_enter_system_scope(reason=f"operator read {tenant.slug}.{table}: {reason}"),
        migrator_connection(db) as conn,
    ):
        pin_session(conn)
        query = sql.SQL("{} limit %(limit)s offset %(offset)s").format(
            select_lines(found, mapped=False)
        )
        lines = conn.execute(query, {"tid": tenant.id, "limit": limit, "offset": offset})
        return [json.loads(line) for (line,) in lines]


def read_audit_log(
    db: Database,
    *,
    actor: Actor,
    reason: str,
    slug: str | None,
    action: str | None,
    limit: int,
) -> list[AuditEntry]:
    _audit(
        db,
        actor=actor,
        action="operator.audit_log_read",
        reason=reason,
        details={"tenant": slug, "action": action, "limit": limit},
    )
    with db.session() as session:
        return audit_log.entries(session, slug=slug, action=action, limit=max(1, min(limit, 1000)))

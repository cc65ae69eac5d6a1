"""``tenantry tenant export SLUG -o FILE``: every row and file of one tenant.

Runs as the migrator (BYPASSRLS; the app role could not read another tenant's rows,
by design) in ONE repeatable-read, read-only transaction, so the archive is a
consistent snapshot even while the tenant's members keep working. Rows are streamed
from a server-side cursor by the tenant-led primary key index straight into the zip:
memory stays flat and the cost follows the tenant's size, not the database's.
"""

from __future__ import annotations

import contextlib
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from tenantry.db.engine import Database
from tenantry.isolation.context import dangerously_enter_system_scope
from tenantry.jobs.runner import conninfo
from tenantry.tenants import audit_log
from tenantry.tenants.archive import (
    CHUNK,
    MANIFEST,
    USERS,
    FileEntry,
    HashingWriter,
    Manifest,
    TableEntry,
    sha256_file,
)
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.catalogue import row_counts, tenant_tables
from tenantry.tenants.lifecycle import TenantNotFound
from tenantry.tenants.rowsql import pin_session, select_lines

BATCH = 2000


@dataclass
class Progress:
    """Callbacks for a progress display: ``start(total rows)``, ``advance(rows)``."""

    start: Callable[[int, str], None] = lambda total, what: None
    advance: Callable[[int], None] = lambda n: None


USERS_SQL = (
    "select row_to_json(x)::text from (select u.id, u.email, u.name, u.password_hash "
    "from users u where u.id in (select m.user_id from tenant_memberships m "
    "where m.tenant_id = %(tid)s)) x order by x.id"
)


@contextlib.contextmanager
def migrator_connection(db: Database) -> Iterator[psycopg.Connection]:
    with psycopg.connect(conninfo(db.urls.migrator)) as conn:
        yield conn


def tenant_files(upload_dir: Path, tenant_id: uuid.UUID) -> list[Path]:
    root = upload_dir / str(tenant_id)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def export_tenant(
    db: Database,
    *,
    slug: str,
    out: Path,
    upload_dir: Path,
    actor: Actor,
    reason: str = "tenant export",
    progress: Progress | None = None,
) -> Manifest:
    progress = progress or Progress()
    partial = out.with_name(out.name + ".partial")
    with (
        dangerously_enter_system_scope(reason=f"export tenant {slug}"),
        migrator_connection(db) as conn,
    ):
        conn.execute("set transaction isolation level repeatable read, read only")
        pin_session(conn)
        row = conn.execute(
            "select id, slug, name, status, primary_domain, created_at from tenants "
            "where slug = %s",
            (slug.strip().lower(),),
        ).fetchone()
        if row is None:
            raise TenantNotFound(f"No tenant with the slug {slug!r}.")
        tid = row[0]
        tenant: dict[str, Any] = {
            "id": str(tid),
            "slug": row[1],
            "name": row[2],
            "status": row[3],
            "primary_domain": row[4],
            "created_at": row[5].isoformat(),
        }
        revision = conn.execute("select version_num from alembic_version").fetchone()
        tables = tenant_tables(conn)
        counts = row_counts(conn, tables, tid)
        manifest = Manifest(
            tenant=tenant,
            schema_revision=str(revision[0]) if revision else "",
            created_at=datetime.now(UTC).isoformat(),
        )
        progress.start(sum(counts.values()), f"export {tenant['slug']}")
        try:
            with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
                with zf.open(USERS, "w", force_zip64=True) as member:
                    users = HashingWriter(member)
                    for (line,) in conn.execute(USERS_SQL, {"tid": tid}):
                        users.write_line(line)
                manifest.users = {"rows": users.lines, "sha256": users.digest.hexdigest()}
                for i, table in enumerate(tables):
                    entry = TableEntry(table.name, 0, "", list(table.columns), list(table.key))
                    with (
                        zf.open(entry.member, "w", force_zip64=True) as member,
                        conn.cursor(name=f"export_{i}") as cursor,
                    ):
                        writer = HashingWriter(member)
                        cursor.itersize = BATCH
                        cursor.execute(select_lines(table, mapped=False), {"tid": tid})
                        for (line,) in cursor:
                            writer.write_line(line)
                            if writer.lines % BATCH == 0:
                                progress.advance(BATCH)
                        progress.advance(writer.lines % BATCH)
                    entry.rows, entry.sha256 = writer.lines, writer.digest.hexdigest()
                    manifest.tables.append(entry)
                manifest.files = _write_files(zf, upload_dir, tid)
                zf.writestr(MANIFEST, manifest.to_json())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(out)
    archive_sha, archive_size = sha256_file(out)
    with db.system_session(reason=f"record export of {slug}") as session:
        audit_log.record(
            session,
            actor=actor,
            action="tenant.exported",
            reason=reason,
            tenant_id=tid,
            slug=tenant["slug"],
            details={
                "file": out.name,
                "archive_sha256": archive_sha,
                "archive_bytes": archive_size,
                "rows": manifest.total_rows,
                "files": len(manifest.files),
            },
        )
    return manifest


def _write_files(zf: zipfile.ZipFile, upload_dir: Path, tid: uuid.UUID) -> list[FileEntry]:
    root = upload_dir / str(tid)
    entries = []
    for path in tenant_files(upload_dir, tid):
        entry = FileEntry(path.relative_to(root).as_posix(), 0, "")
        with path.open("rb") as src, zf.open(entry.member, "w", force_zip64=True) as member:
            writer = HashingWriter(member)
            while chunk := src.read(CHUNK):
                writer.write(chunk)
        entry.size, entry.sha256 = writer.size, writer.digest.hexdigest()
        entries.append(entry)
    return entries

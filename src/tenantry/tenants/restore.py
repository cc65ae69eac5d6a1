"""``tenantry tenant restore FILE [--as-slug NEW]``: load an export, verified, or nothing.

1. The archive is checked whole before anything is written: zip structure, manifest,
   and the SHA-256 and row count of every member. A truncated or corrupted archive
   is refused with the reason.
2. One database transaction loads everything: the tenant row (its old id if that is
   free in this database, a fresh one otherwise), member accounts (an existing
   account with the same email is reused; a new one keeps its id unless taken), and
   every table parents-first (COPY into a temporary table, then one INSERT ... SELECT
   that puts in the new tenant and user ids).
3. Still inside that transaction, every table is read back with ``rowsql`` mapped to
   the archive's ids, and its line count and SHA-256 must equal the manifest's. Any
   difference rolls the whole transaction back: nothing is half-loaded.
4. Files are unpacked into a staging folder, checked, and moved into place only once
   the transaction has committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tenantry.db.engine import Database
from tenantry.isolation.context import dangerously_enter_system_scope
from tenantry.kit.errors import SlugTaken
from tenantry.tenants.archive import (
    USERS,
    ArchiveRefused,
    Manifest,
    open_for_reading,
    read_manifest,
    stream_lines,
    stream_member,
    verify_archive,
)
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.catalogue import TenantTable, tenant_tables
from tenantry.tenants.export import Progress, migrator_connection
from tenantry.tenants.rowsql import USER_MAP, insert_from_load, pin_session, select_lines
from tenantry.tenants.slugs import SLUG_LOCK, normalize_slug, skeleton


@dataclass
class RestoreReport:
    tenant_id: uuid.UUID
    slug: str
    original_id: uuid.UUID
    fresh_tenant_id: bool
    rows: dict[str, int] = field(default_factory=dict)
    users_reused: int = 0
    users_created: int = 0
    users_new_id: int = 0
    files: int = 0
    verified: bool = False


def restore_tenant(
    db: Database,
    *,
    archive_path: Path,
    upload_dir: Path,
    actor: Actor,
    as_slug: str | None = None,
    reason: str = "tenant restore",
    progress: Progress | None = None,
) -> RestoreReport:
    progress = progress or Progress()
    with open_for_reading(archive_path) as archive:
        manifest = read_manifest(archive)
        progress.start(manifest.total_rows, "check archive")
        verify_archive(archive, manifest)
        slug = normalize_slug(as_slug or manifest.tenant["slug"])
        with (
            dangerously_enter_system_scope(reason=f"restore tenant {slug}"),
            migrator_connection(db) as conn,
        ):
            report = _load(conn, archive, manifest, slug, progress)
            staging = _unpack_files(archive, manifest, upload_dir, report.tenant_id)
            try:
                _record(conn, report, manifest, actor=actor, reason=reason)
                conn.commit()
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        if manifest.files:
            staging.replace(upload_dir / str(report.tenant_id))
        else:
            shutil.rmtree(staging, ignore_errors=True)
        report.files = len(manifest.files)
    return report


def _load(
    conn: psycopg.Connection,
    archive: zipfile.ZipFile,
    manifest: Manifest,
    slug: str,
    progress: Progress,
) -> RestoreReport:
    pin_session(conn)
    revision = conn.execute("select version_num from alembic_version").fetchone()
    if not revision or revision[0] != manifest.schema_revision:
        raise ArchiveRefused(
            f"The archive is of schema revision {manifest.schema_revision}; this database is "
            f"at {revision[0] if revision else 'none'}. Migrate (or export again) first."
        )
    tables = {t.name: t for t in tenant_tables(conn)}
    archived = [t.name for t in manifest.tables]
    if set(archived) != set(tables):
        raise ArchiveRefused(
            "The archive's tables differ from this database's tenant tables: "
            f"missing here {sorted(set(archived) - set(tables))}, "
            f"not in the archive {sorted(set(tables) - set(archived))}."
        )
    for entry in manifest.tables:
        if entry.columns != list(tables[entry.name].columns):
            raise ArchiveRefused(f"Columns of {entry.name} differ from the archive's.")
    original = uuid.UUID(manifest.tenant["id"])
    report = _insert_tenant(conn, manifest, slug, original)
    _map_users(conn, archive, report)
    progress.start(manifest.total_rows, f"restore {slug}")
    conn.execute("create temporary table lifecycle_load (doc jsonb) on commit drop")
    params = _params(report)
    # Parents first, in THIS database's order (the catalogue's, not the archive's).
    for table in tables.values():
        entry = next(e for e in manifest.tables if e.name == table.name)
        conn.execute("truncate pg_temp.lifecycle_load")
        with conn.cursor().copy("copy pg_temp.lifecycle_load (doc) from stdin") as copy:
            for line in stream_lines(archive, entry.member):
                copy.write_row((line.decode(),))
        loaded = conn.execute(insert_from_load(table), params).rowcount
        if loaded != entry.rows:
            raise ArchiveRefused(f"{table.name}: loaded {loaded} rows, expected {entry.rows}.")
        report.rows[table.name] = loaded
        progress.advance(loaded)
    for entry in manifest.tables:
        _verify_table(conn, tables[entry.name], entry.rows, entry.sha256, params)
    report.verified = True
    return report


def _params(report: RestoreReport) -> dict[str, object]:
    return {
        "tid": report.tenant_id,
        "orig": report.original_id,
        "tid_prefix": f"{report.tenant_id}/",
        "orig_prefix": f"{report.original_id}/",
    }


def _insert_tenant(
    conn: psycopg.Connection, manifest: Manifest, slug: str, original: uuid.UUID
) -> RestoreReport:
    conn.execute("select pg_advisory_xact_lock(%s)", (SLUG_LOCK,))
    if conn.execute("select 1 from tenants where slug = %s", (slug,)).fetchone():
        raise SlugTaken(f"The slug {slug!r} is taken here; restore with --as-slug NEW.")
    if conn.execute("select 1 from tenants where slug_skeleton = %s", (skeleton(slug),)).fetchone():
        raise SlugTaken(f"{slug!r} looks too much like a taken slug; use --as-slug NEW.")
    taken = conn.execute("select 1 from tenants where id = %s", (original,)).fetchone()
    tid = uuid.uuid4() if taken else original
    domain = manifest.tenant.get("primary_domain")
    if (
        domain
        and conn.execute("select 1 from tenants where primary_domain = %s", (domain,)).fetchone()
    ):
        domain = None  # the domain belongs to a live tenant here; the copy goes without
    status = manifest.tenant.get("status") or "active"
    conn.execute(
        "insert into tenants (id, slug, slug_skeleton, name, primary_domain, status) "
        "values (%s, %s, %s, %s, %s, %s)",
        (tid, slug, skeleton(slug), manifest.tenant["name"], domain,
         status if status in ("active", "suspended") else "active"),
    )  # fmt: skip
    return RestoreReport(tid, slug, original, fresh_tenant_id=bool(taken))


def _map_users(conn: psycopg.Connection, archive: zipfile.ZipFile, report: RestoreReport) -> None:
    """Map every archived account to one here: same email → that account; otherwise
    created, keeping its id unless the id is taken."""
    conn.execute(
        sql.SQL(
            "create temporary table {} (old uuid primary key, new uuid not null unique) "
            "on commit drop"
        ).format(USER_MAP)
    )
    for line in stream_lines(archive, USERS):
        user = json.loads(line)
        old = uuid.UUID(user["id"])
        found = conn.execute(
            "select id from users where lower(email) = lower(%s)", (user["email"],)
        ).fetchone()
        if found:
            new, report.users_reused = found[0], report.users_reused + 1
        else:
            id_taken = conn.execute("select 1 from users where id = %s", (old,)).fetchone()
            new = uuid.uuid4() if id_taken else old
            report.users_created += 1
            report.users_new_id += bool(id_taken)
            conn.execute(
                "insert into users (id, email, name, password_hash) values (%s, %s, %s, %s)",
                (new, user["email"], user["name"], user["password_hash"]),
            )
        conn.execute(
            sql.SQL("insert into pg_temp.{} (old, new) values (%s, %s)").format(USER_MAP),
            (old, new),
        )


def _verify_table(
    conn: psycopg.Connection,
    table: TenantTable,
    rows: int,
    sha256: str,
    params: dict[str, object],
) -> None:
    digest, count = hashlib.sha256(), 0
    with conn.cursor(name=f"verify_{table.name}") as cursor:
        cursor.itersize = 2000
        cursor.execute(select_lines(table, mapped=True), params)
        for (line,) in cursor:
            digest.update(line.encode() + b"\n")
            count += 1
    if count != rows or digest.hexdigest() != sha256:
        raise ArchiveRefused(
            f"{table.name}: the restored rows do not match the manifest "
            f"({count} rows vs {rows}); nothing was restored."
        )


def _unpack_files(
    archive: zipfile.ZipFile, manifest: Manifest, upload_dir: Path, tid: uuid.UUID
) -> Path:
    final = upload_dir / str(tid)
    if final.exists() and any(final.iterdir()):
        raise ArchiveRefused(f"{final} already holds files; refusing to mix them.")
    staging = upload_dir / f".restore-{tid}-{uuid.uuid4().hex[:8]}"
    try:
        for entry in manifest.files:
            target = staging / entry.path
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with target.open("wb") as out:
                for chunk in stream_member(archive, entry.member):
                    out.write(chunk)
                    digest.update(chunk)
            if digest.hexdigest() != entry.sha256:
                raise ArchiveRefused(f"{entry.member} changed while restoring.")
            target.chmod(0o600)
        staging.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            final.rmdir()  # an empty leftover folder
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _record(
    conn: psycopg.Connection,
    report: RestoreReport,
    manifest: Manifest,
    *,
    actor: Actor,
    reason: str,
) -> None:
    """The audit entry, in the restore's own transaction (so it exists iff it committed)."""
    from tenantry.tenants.audit_log import _log

    details = {
        "archive_created_at": manifest.created_at,
        "original_tenant_id": str(report.original_id),
        "original_slug": manifest.tenant["slug"],
        "fresh_tenant_id": report.fresh_tenant_id,
        "rows": sum(report.rows.values()),
        "files": len(manifest.files),
        "users_reused": report.users_reused,
        "users_created": report.users_created,
    }
    conn.execute(
        "insert into platform_audit_log (actor, actor_user_id, action, target_tenant_id, "
        "target_slug, reason, details, request_id) values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (actor.label, actor.user_id, "tenant.restored", report.tenant_id, report.slug, reason,
         psycopg.types.json.Jsonb(details), actor.request_id),
    )  # fmt: skip
    _log.info(
        "audit_event",
        action="tenant.restored",
        actor=actor.label,
        target_tenant_id=str(report.tenant_id),
        target_slug=report.slug,
        reason=reason,
    )

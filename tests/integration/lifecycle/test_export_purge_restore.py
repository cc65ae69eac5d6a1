"""Export → purge → restore on real PostgreSQL: same rows and files (checksums equal),
every tenant table covered, other tenants unchanged, damaged archives refused whole."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from tenantry.areas import tenant_owned_tables
from tenantry.db.tenant import Tenant
from tenantry.jobs.runner import conninfo
from tenantry.tenants.archive import MANIFEST, ArchiveRefused, Manifest
from tenantry.tenants.audit_log import Actor, AuditEntry
from tenantry.tenants.catalogue import TENANT_PREFIXED_COLUMNS, TenantTable, tenant_tables
from tenantry.tenants.export import export_tenant
from tenantry.tenants.purge import ConfirmationMismatch, purge_tenant
from tenantry.tenants.restore import restore_tenant
from tests.helpers import login
from tests.integration.lifecycle.populate import populated_tenant

ACTOR = Actor(label="test:lifecycle")


@contextlib.contextmanager
def migrator(db) -> Iterator[psycopg.Connection]:  # type: ignore[no-untyped-def]
    with psycopg.connect(conninfo(db.urls.migrator), autocommit=True) as conn:
        yield conn


def _export(db, settings, slug: str, out: Path) -> Manifest:  # type: ignore[no-untyped-def]
    return export_tenant(db, slug=slug, out=out, upload_dir=settings.upload_dir, actor=ACTOR)


def _purge(db, settings, slug: str, **kw):  # type: ignore[no-untyped-def]
    return purge_tenant(
        db, slug=slug, confirm=slug, upload_dir=settings.upload_dir, actor=ACTOR, **kw
    )


def _restore(db, settings, path: Path, **kw):  # type: ignore[no-untyped-def]
    return restore_tenant(db, archive_path=path, upload_dir=settings.upload_dir, actor=ACTOR, **kw)


def uncovered(manifest: Manifest, tables: list[TenantTable]) -> list[str]:
    """Tenant tables the export misses, or that the populated tenant leaves empty (so a
    round trip would prove nothing about them)."""
    rows = {t.name: t.rows for t in manifest.tables}
    return sorted(t.name for t in tables if rows.get(t.name, 0) == 0)


@pytest.fixture
def populated(db):  # type: ignore[no-untyped-def]
    return populated_tenant(db)


def test_every_tenant_table_is_covered(db, settings, populated, tmp_path):
    manifest = _export(db, settings, populated.slug, tmp_path / "a.zip")
    with migrator(db) as conn:
        tables = tenant_tables(conn)
    assert sorted(t.name for t in tables) == sorted(tenant_owned_tables()), (
        "the live catalogue and the ORM models disagree on the tenant tables"
    )
    gaps = uncovered(manifest, tables)
    assert not gaps, (
        f"tenant tables with no row in the populated tenant: {gaps}. Give each a filler "
        "(its area's demo.fill or tests/integration/lifecycle/populate.py EXTRA_FILLERS) "
        "so export, purge and restore are proven on it."
    )
    assert manifest.files, "the populated tenant should have stored files"


def test_a_tenant_table_added_later_is_exported_and_flagged_until_populated(
    db, settings, populated, tmp_path
):
    """A new table with tenant_id is picked up from the catalogue by export, and the
    coverage check above fails on it until a filler gives it rows."""
    name = f"lifecycle_probe_{uuid.uuid4().hex[:6]}"
    ident = sql.Identifier(name)
    with migrator(db) as conn:
        conn.execute(
            sql.SQL(
                "create table {} (tenant_id uuid not null references tenants(id) "
                "on delete cascade, id uuid not null, note text, primary key (tenant_id, id))"
            ).format(ident)
        )
    try:
        manifest = _export(db, settings, populated.slug, tmp_path / "b.zip")
        with migrator(db) as conn:
            tables = tenant_tables(conn)
        assert name in [t.name for t in manifest.tables]
        assert uncovered(manifest, tables) == [name]
    finally:
        with migrator(db) as conn:
            conn.execute(sql.SQL("drop table {}").format(ident))


def test_no_column_embeds_the_tenant_id_unless_declared(db, populated):
    """A restore under a fresh id rewrites tenant_id, user ids and the declared prefixed
    columns. Any other column holding the tenant id would keep a stale one."""
    found = []
    with migrator(db) as conn:
        for table in tenant_tables(conn):
            for column in table.columns:
                if column == "tenant_id" or (table.name, column) in TENANT_PREFIXED_COLUMNS:
                    continue
                query = sql.SQL(
                    "select count(*) from {t} where tenant_id = %s and {c}::text like %s"
                ).format(t=table.ident(), c=sql.Identifier(column))
                hit = conn.execute(query, (populated.id, f"%{populated.id}%")).fetchone()
                if hit and hit[0]:
                    found.append(f"{table.name}.{column}")
    assert not found, f"columns embedding the tenant id, not in TENANT_PREFIXED_COLUMNS: {found}"


def test_export_purge_restore_gives_the_same_rows_and_files(db, settings, populated, tmp_path):
    before = _export(db, settings, populated.slug, tmp_path / "before.zip")
    report = _purge(db, settings, populated.slug)
    assert report.verified and report.others_unchanged and not report.resumed
    assert set(report.remaining) == {t.name for t in before.tables}
    assert not any(report.remaining.values())
    assert sum(report.deleted.values()) == before.total_rows
    assert report.files_deleted == len(before.files) and report.files_remaining == 0
    assert not (settings.upload_dir / str(populated.id)).exists()
    with db.system_session(reason="test: inspect") as s:
        assert s.get(Tenant, populated.id) is None
        actions = set(
            s.scalars(select(AuditEntry.action).where(AuditEntry.target_tenant_id == populated.id))
        )
    assert {"tenant.exported", "tenant.purge_started", "tenant.purged"} <= actions

    restored = _restore(db, settings, tmp_path / "before.zip")
    assert restored.verified and restored.tenant_id == populated.id
    assert not restored.fresh_tenant_id and restored.users_reused == len(populated.members) + 2
    after = _export(db, settings, populated.slug, tmp_path / "after.zip")
    assert [(t.name, t.rows, t.sha256) for t in after.tables] == [
        (t.name, t.rows, t.sha256) for t in before.tables
    ]
    assert [(f.path, f.sha256) for f in after.files] == [(f.path, f.sha256) for f in before.files]
    assert after.users == before.users


def test_members_sign_in_again_after_a_restore(db, settings, populated, tmp_path, client):
    _export(db, settings, populated.slug, tmp_path / "x.zip")
    _purge(db, settings, populated.slug)
    _restore(db, settings, tmp_path / "x.zip")
    login(client, populated["staff"], tenant=populated.slug)
    assert client.get("/api/tenant/current").json()["tenant"]["slug"] == populated.slug


def test_restore_as_a_new_slug_beside_the_original_uses_fresh_ids(
    db, settings, populated, tmp_path, client
):
    manifest = _export(db, settings, populated.slug, tmp_path / "x.zip")
    copy_slug = f"copy-{uuid.uuid4().hex[:8]}"
    report = _restore(db, settings, tmp_path / "x.zip", as_slug=copy_slug)
    assert report.verified and report.fresh_tenant_id and report.tenant_id != populated.id
    assert report.rows == {t.name: t.rows for t in manifest.tables}
    # Files are under the new tenant's prefix, and the rows point at them.
    with migrator(db) as conn:
        keys = [
            r[0]
            for r in conn.execute(
                "select storage_key from attachments where tenant_id = %s", (report.tenant_id,)
            )
        ]
    assert keys and all(k.startswith(f"{report.tenant_id}/") for k in keys)
    for key in keys:
        assert (settings.upload_dir / key).is_file()
    # The original is untouched and members reach both tenants.
    login(client, populated["owner"], tenant=copy_slug)
    assert client.get("/api/tenant/current").json()["tenant"]["slug"] == copy_slug


def test_an_interrupted_purge_resumes_and_the_tenant_is_refused_meanwhile(
    db, settings, populated, client
):
    login(client, populated["owner"], tenant=populated.slug)
    with pytest.raises(KeyboardInterrupt):
        _purge(db, settings, populated.slug, stop_after_tables=3)
    refused = client.get("/api/tenant/current")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tenant_suspended"
    report = _purge(db, settings, populated.slug)
    assert report.resumed and report.verified and report.others_unchanged


def test_purge_needs_the_slug_typed_again(db, settings, populated):
    with pytest.raises(ConfirmationMismatch):
        purge_tenant(
            db, slug=populated.slug, confirm="something-else",
            upload_dir=settings.upload_dir, actor=ACTOR,
        )  # fmt: skip
    with db.system_session(reason="test: inspect") as s:
        assert s.get(Tenant, populated.id).status == "active"


def _assert_nothing_loaded(db, settings, slug: str) -> None:  # type: ignore[no-untyped-def]
    with db.system_session(reason="test: inspect") as s:
        assert s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is None
    leftovers = [p for p in settings.upload_dir.glob(".restore-*")]
    assert not leftovers


def _rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        members = {name: zin.read(name) for name in zin.namelist()}
        for name, data in change(members).items():
            zout.writestr(name, data)


@pytest.fixture
def archive(db, settings, tmp_path):  # type: ignore[no-untyped-def]
    tenant = populated_tenant(db)
    path = tmp_path / "good.zip"
    _export(db, settings, tenant.slug, path)
    return path


def test_a_truncated_archive_is_refused_and_nothing_is_loaded(db, settings, archive, tmp_path):
    cut = tmp_path / "cut.zip"
    data = archive.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    slug = f"cut-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ArchiveRefused, match="truncated or corrupted"):
        _restore(db, settings, cut, as_slug=slug)
    _assert_nothing_loaded(db, settings, slug)


def test_a_changed_row_is_refused_by_its_checksum(db, settings, archive, tmp_path):
    def change(members: dict[str, bytes]) -> dict[str, bytes]:
        members["tables/services.ndjson"] = members["tables/services.ndjson"].replace(
            b'"name":"', b'"name":"X', 1
        )
        return members

    bad = tmp_path / "bad.zip"
    _rewrite(archive, bad, change)
    slug = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ArchiveRefused, match=r"services\.ndjson does not match the manifest"):
        _restore(db, settings, bad, as_slug=slug)
    _assert_nothing_loaded(db, settings, slug)


def test_a_corrupted_file_is_refused(db, settings, archive, tmp_path):
    def change(members: dict[str, bytes]) -> dict[str, bytes]:
        name = next(n for n in members if n.startswith("files/"))
        members[name] = members[name] + b"tampered"
        return members

    bad = tmp_path / "bad.zip"
    _rewrite(archive, bad, change)
    slug = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ArchiveRefused, match="does not match the manifest"):
        _restore(db, settings, bad, as_slug=slug)
    _assert_nothing_loaded(db, settings, slug)


def test_rows_that_load_but_do_not_verify_roll_everything_back(db, settings, archive, tmp_path):
    """The archive is self-consistent (manifest rewritten to match) but its lines are not
    PostgreSQL's own: they load, then the read-back checksum differs, and the whole
    transaction — tenant, accounts, every table — is rolled back."""

    def change(members: dict[str, bytes]) -> dict[str, bytes]:
        import hashlib

        member = "tables/services.ndjson"
        lines = [json.loads(x) for x in members[member].decode().splitlines()]
        members[member] = "".join(json.dumps(x) + "\n" for x in lines).encode()
        manifest = json.loads(members[MANIFEST])
        for table in manifest["tables"]:
            if table["name"] == "services":
                table["sha256"] = hashlib.sha256(members[member]).hexdigest()
        members[MANIFEST] = json.dumps(manifest).encode()
        return members

    bad = tmp_path / "respaced.zip"
    _rewrite(archive, bad, change)
    slug = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ArchiveRefused, match="services: the restored rows do not match"):
        _restore(db, settings, bad, as_slug=slug)
    _assert_nothing_loaded(db, settings, slug)


def test_not_an_archive_and_a_missing_file_are_clear_errors(db, settings, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_text("hello")
    with pytest.raises(ArchiveRefused, match="not a complete export archive"):
        _restore(db, settings, junk)
    with pytest.raises(ArchiveRefused, match="No such file"):
        _restore(db, settings, tmp_path / "missing.zip")
    shutil.rmtree(tmp_path, ignore_errors=True)

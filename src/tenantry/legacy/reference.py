"""The target schema, read from a throw-away database that the migrations built.

``tenantry legacy tighten`` must bring a legacy database to *exactly* the schema that
``tenantry migrate`` creates — including tables, grants and policies that other
migrations add later. So the target is never written down here: a scratch database
(and its two roles) is created on the same server, migrated to Alembic's head by the
same code as ``tenantry migrate``, read with ``catalogue.read_snapshot`` and dropped.
The snapshot is cached in the legacy database (``state``) under the head revision it
was built at, so ``status`` can compare without building it again.
"""

from __future__ import annotations

import secrets
from typing import Any

from alembic.script import ScriptDirectory

from tenantry.db.bootstrap import DatabaseUrls, drop_database, ensure_database
from tenantry.db.migrate import alembic_config, upgrade
from tenantry.legacy import state
from tenantry.legacy.catalogue import Snapshot, read_snapshot
from tenantry.legacy.connect import connect


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations have no head revision"
    return head


def build_reference(urls: DatabaseUrls) -> Snapshot:
    """Migrate a scratch database to head on the same server and snapshot it."""
    name = f"tenantry_ref_{secrets.token_hex(5)}"
    ref = DatabaseUrls(
        admin=urls.admin,
        migrator=urls.admin.set(
            username=f"{name}_migrator", password=secrets.token_urlsafe(18), database=name
        ),
        app=urls.admin.set(
            username=f"{name}_app", password=secrets.token_urlsafe(18), database=name
        ),
        worker=urls.admin.set(
            username=f"{name}_worker", password=secrets.token_urlsafe(18), database=name
        ),
        database=name,
        migrator_role=f"{name}_migrator",
        app_role=f"{name}_app",
        worker_role=f"{name}_worker",
    )
    try:
        ensure_database(ref)
        upgrade(ref)
        with connect(ref.admin.set(database=name)) as conn:
            return read_snapshot(conn)
    finally:
        drop_database(ref)


# One build per server and head in a process (tests convert several databases).
_BUILT: dict[tuple[str, str], dict[str, Any]] = {}


def target_snapshot(urls: DatabaseUrls, *, rebuild: bool = False) -> tuple[str, Snapshot]:
    """The head revision and its schema snapshot (cached in the legacy database)."""
    head = head_revision()
    with connect(urls.migrator) as conn:
        state.ensure(conn)
        cached = None if rebuild else state.cached_reference(conn, head)
    if cached is not None:
        return head, Snapshot.from_json(cached)
    server = urls.admin.set(database="").render_as_string(hide_password=True)
    built = None if rebuild else _BUILT.get((server, head))
    snapshot = Snapshot.from_json(built) if built else build_reference(urls)
    _BUILT[(server, head)] = snapshot.to_json()
    with connect(urls.migrator) as conn:
        state.store_reference(conn, head, snapshot.to_json())
    return head, snapshot


def cached_target(conn: Any) -> tuple[str, Snapshot] | None:
    """The cached snapshot at the current head, without building one (for ``status``)."""
    head = head_revision()
    cached = state.cached_reference(conn, head)
    return (head, Snapshot.from_json(cached)) if cached is not None else None

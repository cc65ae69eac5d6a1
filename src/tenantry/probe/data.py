"""The data-access adapter: what is in tenant B's rows, and did they change?

Over HTTP the engine can only ask B's own API (``ApiSnapshot`` in ``engine``); run
in-process it can also look at the database. ``SqlAdapter`` reads as the app role
inside a *tenant-B context* — row-level security shows it B's rows and nothing else —
using raw SQL over every table that has RLS and a ``tenant_id`` column, found in the
catalogue (no import of any business model). Digests are one round trip for all
tables, cheap enough to take after every mutating probe.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from tenantry.isolation.context import TenantContext, tenant_context

_TENANT_TABLES = text(
    """
    select c.relname
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and c.relrowsecurity
      and n.nspname = current_schema()
      and exists (select 1 from pg_attribute a
                  where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
    order by c.relname
    """
)


class DataAdapter(Protocol):
    def rows(self, tenant_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(table, row as JSON) for every row of the tenant (bounded per table)."""
        ...

    def digest(self, tenant_id: str) -> dict[str, str]:
        """A digest per table of the tenant's rows."""
        ...

    def remove_membership(self, tenant_id: str, user_id: str) -> None:
        """Mark a member removed, as a team admin would (for the replay scenario)."""
        ...


class SessionFactory(Protocol):
    def session(self) -> AbstractContextManager[Session]: ...


class SqlAdapter:
    """``DataAdapter`` over a ``tenantry.db.engine.Database`` (anything with ``session()``
    handing out sessions as the app role)."""

    ROW_LIMIT = 2000

    def __init__(self, db: SessionFactory) -> None:
        self.db = db
        self._tables: list[str] | None = None

    def _in(self, tenant_id: str) -> AbstractContextManager[TenantContext]:
        return tenant_context(TenantContext(tenant_id=uuid.UUID(tenant_id), scope="tenant"))

    def tables(self) -> list[str]:
        if self._tables is None:
            with self.db.session() as s:
                self._tables = [str(r[0]) for r in s.execute(_TENANT_TABLES)]
        return self._tables

    def rows(self, tenant_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        tables = self.tables()
        with self._in(tenant_id), self.db.session() as s:
            for table in tables:
                # Table names come from the catalogue, quoted as identifiers.
                stmt = text(f'select to_jsonb(t) from "{table}" t limit :n')  # noqa: S608
                for (row,) in s.execute(stmt, {"n": self.ROW_LIMIT}):
                    yield table, row

    def digest(self, tenant_id: str) -> dict[str, str]:
        tables = self.tables()
        if not tables:
            return {}
        parts = [
            f"select '{t}' as table_name, count(*) as n, "  # noqa: S608 - catalogue names, quoted
            f"md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h "
            f'from "{t}" x where x.tenant_id = :tid'
            for t in tables
        ]
        with self._in(tenant_id), self.db.session() as s:
            result = s.execute(text(" union all ".join(parts)), {"tid": tenant_id})
            return {str(name): f"{n}:{h}" for name, n, h in result}

    def remove_membership(self, tenant_id: str, user_id: str) -> None:
        with self._in(tenant_id), self.db.session() as s:
            s.execute(
                text(
                    "update tenant_memberships set status = 'removed' "
                    "where tenant_id = :tid and user_id = :uid"
                ),
                {"tid": tenant_id, "uid": user_id},
            )

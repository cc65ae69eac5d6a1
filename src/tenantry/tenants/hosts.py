"""Host → tenant resolution for the edge middleware, with a short per-host cache."""

from __future__ import annotations

import threading
import time

from sqlalchemy import or_, select

from tenantry.db.engine import Database
from tenantry.db.tenant import Tenant
from tenantry.isolation.middleware import HostTenant, UnknownTenantHost, tenant_slug_from_host


class HostResolver:
    """Maps a request host to its tenant. Only the mapping is cached; the tenant's
    status is re-read by the route dependency on every request."""

    def __init__(self, db: Database, base_domain: str, ttl_s: float = 10.0) -> None:
        self.db = db
        self.base_domain = base_domain
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, HostTenant | None]] = {}
        self._lock = threading.Lock()

    def peek(self, host: str) -> tuple[bool, HostTenant | None]:
        """``(True, tenant or None)`` when the mapping is cached and fresh, without any
        I/O — the edge answers from it on the event loop, no worker thread needed —
        else ``(False, None)``: call the resolver (in a worker thread)."""
        with self._lock:
            hit = self._cache.get(host)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def __call__(self, host: str) -> HostTenant | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(host)
        if hit is not None and now - hit[0] < self.ttl_s:
            found = hit[1]
        else:
            found = self._lookup(host)
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[host] = (now, found)
        if found is None:
            raise UnknownTenantHost(host)
        return found

    def _lookup(self, host: str) -> HostTenant | None:
        slug = tenant_slug_from_host(host, self.base_domain)
        with self.db.session() as session:
            row = session.execute(
                select(Tenant.id, Tenant.slug, Tenant.status).where(
                    or_(Tenant.slug == slug, Tenant.primary_domain == host)
                    if slug
                    else Tenant.primary_domain == host
                )
            ).first()
        return HostTenant(row.id, row.slug, row.status) if row else None

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()

"""Tenant names for metrics, error reports and quotas, with a bounded label set.

``TenantNames`` maps a tenant id to its slug (one indexed query per tenant, cached).
``TenantLabels`` turns a tenant into a metric label with a fixed ceiling: the slugs
named in ``TENANTRY_METRICS_TENANTS`` always get their own label, the first
``TENANTRY_METRICS_TENANT_LABELS`` other tenants a process meets get theirs, and
every later tenant is ``other`` — so the number of series stays fixed however many
tenants sign up. Requests with no tenant are ``none``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import select

from tenantry.db.tenant import Tenant

NO_TENANT = "none"
OTHER = "other"

SlugLookup = Callable[[uuid.UUID], str | None]


class TenantNames:
    """id → slug, cached (LRU, TTL). Slugs change rarely; a renamed tenant shows its
    new slug after ``ttl_s``."""

    def __init__(self, lookup: SlugLookup, *, ttl_s: float = 600.0, size: int = 10_000) -> None:
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._size = size
        self._cache: OrderedDict[uuid.UUID, tuple[float, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, tenant_id: uuid.UUID) -> tuple[bool, str | None]:
        with self._lock:
            hit = self._cache.get(tenant_id)
        if hit is not None and time.monotonic() - hit[0] < self._ttl_s:
            return True, hit[1]
        return False, None

    def learn(self, tenant_id: uuid.UUID, slug: str) -> None:
        self._store(tenant_id, slug)

    def slug(self, tenant_id: uuid.UUID) -> str | None:
        known, slug = self.cached(tenant_id)
        if known:
            return slug
        slug = self._lookup(tenant_id)
        self._store(tenant_id, slug)
        return slug

    def _store(self, tenant_id: uuid.UUID, slug: str | None) -> None:
        with self._lock:
            self._cache[tenant_id] = (time.monotonic(), slug)
            self._cache.move_to_end(tenant_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)


def database_slug_lookup(session_factory: Callable[[], object]) -> SlugLookup:
    """A lookup over ``tenants`` (a global table the app role reads, as the host
    resolver does)."""
    from contextlib import AbstractContextManager
    from typing import cast

    from sqlalchemy.orm import Session

    def lookup(tenant_id: uuid.UUID) -> str | None:
        with cast(AbstractContextManager[Session], session_factory()) as session:
            return session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))

    return lookup


class TenantLabels:
    def __init__(self, names: TenantNames, *, capacity: int, pinned: frozenset[str]) -> None:
        self.names = names
        self.capacity = max(0, capacity)
        self.pinned = pinned
        self._labels: dict[uuid.UUID, str] = {}
        self._admitted = 0
        self._lock = threading.Lock()

    def cached(self, tenant_id: uuid.UUID | None) -> str | None:
        """The label when it is known without a lookup (the hot path), else ``None``."""
        if tenant_id is None:
            return NO_TENANT
        label = self._labels.get(tenant_id)
        if label is not None:
            return label
        if self._admitted >= self.capacity and not self.pinned:
            return OTHER  # full and nothing pinned: no need to know the slug
        return None

    def label(self, tenant_id: uuid.UUID | None) -> str:
        """The tenant's label; may look the slug up once (see ``cached``)."""
        quick = self.cached(tenant_id)
        if quick is not None or tenant_id is None:
            return quick or NO_TENANT
        slug = self.names.slug(tenant_id)
        with self._lock:
            label = self._labels.get(tenant_id)
            if label is not None:
                return label
            if slug is None:
                return OTHER  # unknown tenant id: never a label of its own
            if slug in self.pinned:
                label = slug
            elif self._admitted < self.capacity:
                self._admitted += 1
                label = slug
            else:
                # Not remembered: the dict holds at most capacity + pinned entries.
                return OTHER
            self._labels[tenant_id] = label
            return label

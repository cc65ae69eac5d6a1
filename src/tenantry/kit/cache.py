"""A tenant-keyed cache for hot reads (settings, permissions).

Every key includes the tenant id, taken from the tenant context — never from the
caller — so one tenant's cached value can never answer another. Writes invalidate
the tenant's entry. In-process with a TTL: with several processes, another process's
write is seen after at most ``ttl_s`` seconds (set it accordingly, or put a shared
cache behind the same interface).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from tenantry.isolation.context import require_context, require_tenant_id, tenant_context

T = TypeVar("T")


class TenantCache:
    def __init__(self, ttl_s: float = 30.0, max_entries: int = 50_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: dict[tuple[uuid.UUID, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, name: str, load: Callable[[], T]) -> T:
        key = (require_tenant_id(), name)
        now = time.monotonic()
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            value: T = hit[1]
            return value
        value = load()
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (now, value)
        return value

    def peek(self, name: str) -> Any:
        """The current tenant's live entry ``name``, or ``None`` (missing or expired)."""
        key = (require_tenant_id(), name)
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        return None

    def invalidate(self, name: str | None = None) -> None:
        """Drop the current tenant's entry ``name`` (or all of its entries)."""
        tenant_id = require_tenant_id()
        with self._lock:
            for key in [k for k in self._data if k[0] == tenant_id and name in (None, k[1])]:
                del self._data[key]

    def invalidate_on_commit(self, session: Session, *names: str) -> None:
        """Drop the current tenant's ``names`` now and again once ``session`` commits.

        Now, so the rest of this request reads fresh values; after the commit, because
        a concurrent request between this write and the commit could otherwise cache
        the old value again for a whole TTL.
        """
        ctx = require_context()
        for name in names:
            self.invalidate(name)

        def after_commit(_: Session) -> None:
            with tenant_context(ctx):
                for name in names:
                    self.invalidate(name)

        event.listen(session, "after_commit", after_commit, once=True)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


tenant_cache = TenantCache()

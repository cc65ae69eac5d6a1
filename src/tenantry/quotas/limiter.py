"""The budgets: ``TENANTRY_TENANT_RATE_LIMIT`` per tenant, ``TENANTRY_USER_RATE_LIMIT``
per user within a tenant, both overridable per tenant (plan tiers) with
``TENANTRY_RATE_LIMIT_OVERRIDES`` keyed by tenant slug or id.

Storage: process memory by default (moving window, exact, per process). With
``TENANTRY_RATE_LIMIT_URL=redis://host:port/db`` every process and machine shares the
counters through Redis (async client, one per event loop). If Redis cannot be
reached, requests are let through and a warning is logged (a limiter outage must not
take the platform down); the metric ``tenantry_security_events_total{code=
"rate_limited"}`` stops rising, which is what to alert on together with the warning.

Before authentication a request is refused from the signed session alone when its
budget is known spent (``refuse_if_spent``: no database work for an abuser's surplus).
In process memory that read is a dict look-up; on shared storage it is a round trip, so
it is only asked for a tenant or user this process saw spent in the last minute (a
*suspect*): every other request costs one storage call, the count after authentication.

A refused request is ``429 rate_limited`` with ``Retry-After`` and the
``RateLimit-Limit``/``RateLimit-Remaining``/``RateLimit-Reset``/``RateLimit-Policy``
headers of the budget that ran out.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from tenantry.errors import RateLimited
from tenantry.settings import Settings

if TYPE_CHECKING:  # a type only: quotas sit below observability at run time
    from tenantry.observability.labels import TenantNames

_log = structlog.get_logger("tenantry.quotas")
NAMESPACE = "tenantry-quota"
SPENT_MEMORY = 10_000  # spent budgets remembered per process (tenants and users)
SUSPECT_SECONDS = 60.0  # how long a budget seen spent is read before authentication


@dataclass(frozen=True)
class Budgets:
    tenant: RateLimitItem | None
    user: RateLimitItem | None


def _parse(value: str | None) -> RateLimitItem | None:
    return parse(value) if value and value.strip() else None


class QuotaExceeded(RateLimited):
    message = "This tenant or user sent too many requests; try again later."


class QuotaLimiter:
    def __init__(self, settings: Settings, names: TenantNames) -> None:
        self.names = names
        self.default = Budgets(_parse(settings.tenant_rate_limit), _parse(settings.user_rate_limit))
        self.overrides = {
            key: Budgets(
                _parse(spec.get("tenant", settings.tenant_rate_limit)),
                _parse(spec.get("user", settings.user_rate_limit)),
            )
            for key, spec in settings.rate_limit_overrides.items()
        }
        self.enabled = any(
            b.tenant is not None or b.user is not None
            for b in (self.default, *self.overrides.values())
        )
        url = settings.rate_limit_url.strip()
        self.shared = not url.startswith("memory")
        self._url = url
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncMovingWindow]
        self._per_loop = weakref.WeakKeyDictionary()
        self._warned_at = 0.0
        # Budgets this process has seen spent, until the moment their window frees a
        # request: key -> (reset, budget name, item). Exact for the moving window — no
        # request leaves the window before its reset, and a refused request adds none —
        # so the gate (``tenantry.quotas.gate``) can refuse without asking the storage.
        self._spent_until: dict[tuple[str, ...], tuple[float, str, RateLimitItem]] = {}
        # Budgets seen spent lately, until when the early read asks shared storage for them.
        self._suspect_until: dict[tuple[str, ...], float] = {}

    # ---- budgets -------------------------------------------------------------------

    async def budgets(self, tenant_id: uuid.UUID) -> Budgets:
        if not self.overrides:
            return self.default
        found = self.overrides.get(str(tenant_id))
        if found is not None:
            return found
        known, slug = self.names.cached(tenant_id)
        if not known:
            slug = await anyio.to_thread.run_sync(self.names.slug, tenant_id)
        return self.overrides.get(slug or "", self.default)

    # ---- storage -------------------------------------------------------------------

    def _async_limiter(self) -> AsyncMovingWindow:
        loop = asyncio.get_running_loop()
        limiter = self._per_loop.get(loop)
        if limiter is None:
            scheme, sep, rest = self._url.partition("://")
            storage: Any = storage_from_string(
                f"async+{scheme}{sep}{rest}", implementation="redispy"
            )
            limiter = AsyncMovingWindow(storage)
            self._per_loop[loop] = limiter
        return limiter

    def _hit_here(self, item: RateLimitItem, *key: str) -> tuple[bool, float, int]:
        """``_hit`` on the in-process storage (thread-safe: any thread may count)."""
        if self._memory.hit(item, NAMESPACE, *key):
            return True, 0.0, 0
        reset, remaining = self._memory.get_window_stats(item, NAMESPACE, *key)
        return False, reset, remaining

    async def _hit(self, item: RateLimitItem, *key: str) -> tuple[bool, float, int]:
        """(allowed, reset time, remaining) after counting one request."""
        if not self.shared:
            return self._hit_here(item, *key)
        limiter = self._async_limiter()
        if await limiter.hit(item, NAMESPACE, *key):
            return True, 0.0, 0
        reset, remaining = await limiter.get_window_stats(item, NAMESPACE, *key)
        return False, reset, remaining

    async def _spent(self, item: RateLimitItem, *key: str) -> tuple[float, int] | None:
        """(reset time, remaining) when the budget is already spent; counts nothing."""
        if not self.shared:
            if self._memory.test(item, NAMESPACE, *key):
                return None
            return self._memory.get_window_stats(item, NAMESPACE, *key)
        limiter = self._async_limiter()
        if await limiter.test(item, NAMESPACE, *key):
            return None
        return await limiter.get_window_stats(item, NAMESPACE, *key)

    # ---- what this process already knows is spent -----------------------------------

    def _remember_spent(
        self, key: tuple[str, ...], name: str, item: RateLimitItem, reset: float
    ) -> None:
        now = time.time()
        if len(self._spent_until) >= SPENT_MEMORY:  # bounded: forget what has reset
            self._spent_until = {k: v for k, v in self._spent_until.items() if v[0] > now}
            if len(self._spent_until) >= SPENT_MEMORY:
                self._spent_until.clear()
        self._spent_until[key] = (reset, name, item)
        if len(self._suspect_until) >= SPENT_MEMORY:
            self._suspect_until = {k: t for k, t in self._suspect_until.items() if t > now}
            if len(self._suspect_until) >= SPENT_MEMORY:
                self._suspect_until.clear()
        self._suspect_until[key] = now + max(SUSPECT_SECONDS, float(item.get_expiry()))

    def _suspected(self, key: tuple[str, ...]) -> bool:
        until = self._suspect_until.get(key)
        if until is None:
            return False
        if until > time.time():
            return True
        self._suspect_until.pop(key, None)
        return False

    @property
    def knows_spent(self) -> bool:
        return bool(self._spent_until)

    def known_spent(self, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> dict[str, str] | None:
        """The refusal headers when this process already saw the user's or the tenant's
        budget spent and its window has not freed a request yet; no storage, no await."""
        if not self._spent_until:
            return None
        now = time.time()
        keys: list[tuple[str, ...]] = [("tenant", str(tenant_id))]
        if user_id is not None:
            keys.insert(0, ("user", str(tenant_id), str(user_id)))
        for key in keys:
            found = self._spent_until.get(key)
            if found is None:
                continue
            reset, name, item = found
            if reset > now:
                return _headers(name, item, reset, 0)
            self._spent_until.pop(key, None)
        return None

    # ---- the checks ----------------------------------------------------------------

    def _checks(
        self, budgets: Budgets, tenant_id: uuid.UUID, user_id: uuid.UUID | None
    ) -> list[tuple[str, RateLimitItem, tuple[str, ...]]]:
        checks: list[tuple[str, RateLimitItem, tuple[str, ...]]] = []
        if budgets.user is not None and user_id is not None:
            checks.append(("user", budgets.user, ("user", str(tenant_id), str(user_id))))
        if budgets.tenant is not None:
            checks.append(("tenant", budgets.tenant, ("tenant", str(tenant_id))))
        return checks

    async def refuse_if_spent(self, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        """Raise ``QuotaExceeded`` when a budget is already spent, counting nothing.

        Runs before authentication, from the signed session cookie alone, so that an
        abusive tenant's surplus costs no database work. It only reads: a replayed
        cookie of a signed-out session can be refused here, never spend a budget.
        On shared storage only suspects are read (module docstring); ``check`` decides
        for the others."""
        if not self.enabled or (self.overrides and not self.names.cached(tenant_id)[0]):
            return  # overrides need the tenant's slug: leave it to ``check``
        if self.shared and not self._suspect_until:
            return
        for name, item, key in self._checks(await self.budgets(tenant_id), tenant_id, user_id):
            if self.shared and not self._suspected(key):
                continue
            try:
                spent = await self._spent(item, *key)
            except Exception as exc:  # the shared storage is away: fail open, loudly
                self._warn(exc)
                return
            if spent is not None:
                reset, remaining = spent
                self._remember_spent(key, name, item, reset)
                raise QuotaExceeded(headers=_headers(name, item, reset, remaining))

    async def check(self, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        """Count one request of ``user_id`` in ``tenant_id``; raise ``QuotaExceeded``
        when either budget is spent (the user's first: a single busy user is stopped
        before they use up the whole tenant's budget)."""
        for name, item, key in self._checks(await self.budgets(tenant_id), tenant_id, user_id):
            try:
                allowed, reset, remaining = await self._hit(item, *key)
            except Exception as exc:  # the shared storage is away: fail open, loudly
                self._warn(exc)
                return
            if not allowed:
                self._refuse(key, name, item, reset, remaining)

    def counts_here(self, tenant_id: uuid.UUID) -> bool:
        """Can ``check_here`` count this tenant's request: in-process storage, and the
        tenant's budgets known without a look-up?"""
        return (
            self.enabled
            and not self.shared
            and (not self.overrides or self.names.cached(tenant_id)[0])
        )

    def check_here(self, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> None:
        """``check`` without awaiting, for sync code (the request's unit counts right
        after its deferred access check passed); only where ``counts_here`` said so
        (in-process storage: nothing to wait for)."""
        for name, item, key in self._checks(self._known_budgets(tenant_id), tenant_id, user_id):
            allowed, reset, remaining = self._hit_here(item, *key)
            if not allowed:
                self._refuse(key, name, item, reset, remaining)

    def _known_budgets(self, tenant_id: uuid.UUID) -> Budgets:
        if not self.overrides:
            return self.default
        found = self.overrides.get(str(tenant_id))
        if found is not None:
            return found
        slug = self.names.cached(tenant_id)[1]
        return self.overrides.get(slug or "", self.default)

    def _refuse(
        self, key: tuple[str, ...], name: str, item: RateLimitItem, reset: float, remaining: int
    ) -> None:
        self._remember_spent(key, name, item, reset)
        raise QuotaExceeded(headers=_headers(name, item, reset, remaining))

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 10:
            self._warned_at = now
            _log.warning("rate_limit_storage_unavailable", error=exc.__class__.__name__)


def _headers(name: str, item: RateLimitItem, reset: float, remaining: int) -> dict[str, str]:
    retry = max(1, math.ceil(reset - time.time()))
    window = item.get_expiry()
    return {
        "Retry-After": str(retry),
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(max(0, remaining)),
        "RateLimit-Reset": str(retry),
        "RateLimit-Policy": f'{item.amount};w={window};comment="{name}"',
    }

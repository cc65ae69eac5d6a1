"""Login rate limits per account and per client address (the ``limits`` library).

Counters live in process memory (moving window). With several app processes each
has its own counters, so the effective limit is multiplied by the process count —
put a shared storage (``limits`` supports Redis/Memcached) behind it when scaling out.
"""

from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from tenantry.errors import RateLimited


class LoginLimiter:
    def __init__(self, per_account: str, per_address: str) -> None:
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)

    def hit(self, *, account: str, address: str) -> None:
        """Count one attempt; raise ``RateLimited`` (429 + Retry-After) past a limit."""
        for item, key in ((self._per_account, account.lower()), (self._per_address, address)):
            if not self._limiter.hit(item, "login", key):
                reset_at, _ = self._limiter.get_window_stats(item, "login", key)
                retry = max(1, math.ceil(reset_at - time.time()))
                raise RateLimited(headers={"Retry-After": str(retry)})

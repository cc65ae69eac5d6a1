"""Rate limits for sign-in and the account endpoints (the ``limits`` library).

Sign-in (``LoginLimiter``) — the design, and why
------------------------------------------------
A lockout keyed on the account alone lets anyone lock anyone out: ten wrong passwords
for your address and you could not sign in for a while (issue 8, finding 7). So:

* **Failures are counted per (account, client address)**, and only failures: past
  ``TENANTRY_LOGIN_FAILURES_PER_ACCOUNT`` (default 10 per 15 minutes) that account is
  refused *from that address* (429 + ``Retry-After``) before its password is even
  checked. The owner, signing in from their own address, never notices — an attacker
  cannot use the lockout against someone else. A correct password clears the counter.
* **Every attempt is counted per address** (``TENANTRY_LOGIN_ATTEMPTS_PER_ADDRESS``,
  default 30 per minute), so one address cannot spray many accounts.
* The address is the TCP peer unless the request came through a proxy listed in
  ``TENANTRY_TRUSTED_PROXIES`` (see ``tenantry serve``): a forged ``X-Forwarded-For``
  cannot buy a fresh budget.

What this does not stop, knowingly: a guesser with many addresses gets ten tries per
address per window against one account. Against that stand argon2id (every guess
costs the guesser a full round trip and the server a hash), the 10-character password
minimum, and the per-address limit. The alternative — a global per-account lockout —
turns the same botnet into a way to lock out any user, which is worse for a service
whose users are other businesses' clients. Users on one NAT share an address, and so
share a budget: an attacker behind the same NAT can lock a colleague out (only from
that NAT). Password-checking endpoints other than sign-in (verify e-mail, change
password) count their failures in the same (account, address) counter.

Account endpoints (``AccountLimiter``)
--------------------------------------
Register, verify, password reset, invitation acceptance: per client address
(``TENANTRY_ACCOUNT_ACTIONS_PER_ADDRESS``), and for those that send mail, per
recipient address as well (``TENANTRY_ACCOUNT_MAILS_PER_EMAIL``), so nobody can flood
an inbox through us. Both count every call whether the address has an account or not,
so a 429 reveals nothing about accounts.

Counters live in process memory (moving window). With several app processes each
has its own counters, so the effective limit is multiplied by the process count —
put a shared storage (``limits`` supports Redis/Memcached) behind it when scaling out.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from tenantry.errors import RateLimited


class _Windows:
    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def refuse(self, item: RateLimitItem, *keys: str) -> RateLimited:
        reset_at, _ = self._limiter.get_window_stats(item, *keys)
        retry = max(1, math.ceil(reset_at - time.time()))
        return RateLimited(headers={"Retry-After": str(retry)})

    def hit(self, item: RateLimitItem, *keys: str) -> None:
        if not self._limiter.hit(item, *keys):
            raise self.refuse(item, *keys)

    def check(self, item: RateLimitItem, *keys: str) -> None:
        """Refuse if the window is full, without counting."""
        if not self._limiter.test(item, *keys):
            raise self.refuse(item, *keys)

    def count(self, item: RateLimitItem, *keys: str) -> None:
        """Count one event; never refuses (the next ``check`` will)."""
        self._limiter.hit(item, *keys)

    def clear(self, item: RateLimitItem, *keys: str) -> None:
        self._limiter.clear(item, *keys)


class LoginLimiter:
    """See the module docstring: failures per (account, address), attempts per address."""

    def __init__(self, failures_per_account: str, attempts_per_address: str) -> None:
        self._windows = _Windows()
        self._failures = parse(failures_per_account)
        self._attempts = parse(attempts_per_address)

    def before_attempt(self, *, account: str, address: str, count_address: bool = True) -> None:
        """Raise ``RateLimited`` (429 + Retry-After) if this attempt may not even be tried."""
        if count_address:
            self._windows.hit(self._attempts, "login-address", address)
        self._windows.check(self._failures, "login-failures", account.lower(), address)

    def failed(self, *, account: str, address: str) -> None:
        self._windows.count(self._failures, "login-failures", account.lower(), address)

    def succeeded(self, *, account: str, address: str) -> None:
        self._windows.clear(self._failures, "login-failures", account.lower(), address)


class AccountLimiter:
    """Per-address limit on account actions; per-recipient limit on account mail."""

    def __init__(self, actions_per_address: str, mails_per_email: str) -> None:
        self._windows = _Windows()
        self._actions = parse(actions_per_address)
        self._mails = parse(mails_per_email)

    def action(self, *, address: str) -> None:
        self._windows.hit(self._actions, "account-action", address)

    def mail(self, *, to: str) -> None:
        self._windows.hit(self._mails, "account-mail", to.lower())

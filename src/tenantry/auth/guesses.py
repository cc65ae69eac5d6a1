"""The role each recently verified session held, per process: the guess that lets
``require_tenant`` defer its access check into the unit's call that runs the endpoint.

It is only ever a guess. The deferred check still reads the session row, the session
version, the tenant's status and the membership in the request's own transaction
before anything of the request runs, and refuses exactly as the eager check does; a
role that differs from the guess re-runs the request with the check first
(``tenantry.db.unit.StaleGuess``). So nothing here needs invalidating for revocation
to stay immediate: a wrong or stale entry costs one more hop, never an answer.
"""

from __future__ import annotations

import uuid

Key = tuple[uuid.UUID, uuid.UUID, int]  # (session id, tenant id, session version)

_MAX = 10_000  # a bound, not a tuning knob: clearing it only costs hops


class RoleGuesses:
    def __init__(self, limit: int = _MAX) -> None:
        self._roles: dict[Key, str] = {}
        self._limit = limit

    def get(self, key: Key) -> str | None:
        return self._roles.get(key)

    def remember(self, key: Key, role: str) -> None:
        if len(self._roles) >= self._limit and key not in self._roles:
            self._roles.clear()
        self._roles[key] = role

    def forget(self, key: Key) -> None:
        self._roles.pop(key, None)


role_guesses = RoleGuesses()

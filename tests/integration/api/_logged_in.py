"""Helpers for the area API tests: signed-in clients reused across a module.

Hashing a password (argon2) dominates the cost of a test here, so the tests of a
module share a few tenants and one signed-in client per member; tests that change a
tenant's matrix, team or exact listing use fresh tenants instead.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.factories import Member
from tests.helpers import code, login

# ``code`` lives in tests.helpers; modules that import it from here keep working.
__all__ = ["SignedIn", "code", "host", "unique"]


class SignedIn:
    """``as_(member, tenant=None)``: a TestClient signed in as ``member`` (to ``tenant``,
    a slug, when they belong to several); created once, then reused."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self._clients: dict[str, TestClient] = {}

    def __call__(self, member: Member, tenant: str | None = None) -> TestClient:
        key = f"{member.email} {tenant or ''}"
        client = self._clients.get(key)
        if client is None:
            client = TestClient(self.app)
            login(client, member, tenant)
            self._clients[key] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def host(tenant) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"host": f"{tenant.slug}.localhost"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"

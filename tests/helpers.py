"""What the tests share: the error code of a response, signing in, tenants per module.

Import from here (``from tests.helpers import code, login, module_tenant``) instead of
writing another copy in a test module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.factories import TenantFixture


# The signing keys of every test app (two, so key rotation is exercised everywhere).
TEST_KEYS = "test-signing-key-one-0123456789abcdef,test-signing-key-two-0123456789abcdef"


def code(response: Any) -> str:
    """The ``error.code`` of an error response (the one error body of every route)."""
    return str(response.json()["error"]["code"])


def login(client: Any, member: Any, tenant: str | None = None, **kw: Any) -> Any:
    """Sign ``member`` in on ``client`` (to ``tenant``, a slug, when they have several)."""
    body = {"email": member.email, "password": member.password}
    if tenant:
        body["tenant"] = tenant
    response = client.post("/api/auth/login", json=body, **kw)
    assert response.status_code == 200, response.text
    return response


def module_tenant(name: str) -> Any:
    """A fixture ``name``: one fresh tenant (owner, admin, staff, client) for the whole
    module. Signing in dominates a test's cost on a shared machine, so a module's tests
    share their tenants and compare before and after instead of counting from zero::

        tenant_a = module_tenant("tenant_a")
    """

    @pytest.fixture(scope="module", name=name)
    def _tenant(db: Any) -> TenantFixture:
        from tests.factories import make_tenant

        return make_tenant(db)

    return _tenant

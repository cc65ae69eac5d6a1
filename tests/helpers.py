"""What the tests share: the error code of a response, signing in, tenants per module.

Import from here (``from tests.helpers import code, login, module_tenant``) instead of
writing another copy in a test module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tenantry.db.engine import Database
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


def served_handlers(app: Any) -> list[tuple[str, Any, Any]]:
    """(``"METHOD,... /path"``, route context, request handler) for every API route of
    ``app``: the handler the route serves with, the function FastAPI's
    ``request_response`` closes over (``f``) under its included route's ASGI app."""
    from fastapi.routing import APIRoute, iter_route_contexts

    out: list[tuple[str, Any, Any]] = []
    for rc in iter_route_contexts(app.routes):
        if not isinstance(rc.original_route, APIRoute):
            continue
        asgi: Any = rc._route_context.app if rc._route_context else rc.original_route.app
        while not hasattr(asgi, "__code__") and hasattr(asgi, "app"):
            asgi = asgi.app  # body-limit middlewares around it
        cells = dict(zip(asgi.__code__.co_freevars, asgi.__closure__ or (), strict=True))
        out.append(
            (f"{','.join(sorted(rc.methods or ()))} {rc.path}", rc, cells["f"].cell_contents)
        )
    return out


@contextlib.contextmanager
def fastapi_own_handlers() -> Iterator[None]:
    """Routes whose handlers are built inside this block get FastAPI's own request
    handler even when an integration patched ``fastapi.routing.get_request_handler`` in
    this process (Sentry's FastAPI integration does, for good, once any test has
    started the SDK). The handlers are built lazily: build the app inside the block and
    call ``served_handlers`` on it before leaving."""
    import fastapi.routing

    patched = fastapi.routing.get_request_handler
    own: Any = patched
    while own.__qualname__ != "get_request_handler":  # follow the wrappers' closures
        cells = dict(zip(own.__code__.co_freevars, own.__closure__ or (), strict=True))
        own = next(c.cell_contents for n, c in cells.items() if "get_request_handler" in n)
    fastapi.routing.get_request_handler = own
    try:
        yield
    finally:
        fastapi.routing.get_request_handler = patched


@contextlib.contextmanager
def guard_only_session(db: Database) -> Iterator[Session]:
    """A privileged connection (BYPASSRLS) with the guard on and NO system scope: only
    wall 4, the ORM guard, stands between a query and other tenants' rows. Rolled back
    at the end."""
    from sqlalchemy.orm import sessionmaker

    from tenantry.isolation.guard import GuardedSession

    maker = sessionmaker(db.migrator_engine, class_=GuardedSession, expire_on_commit=False)
    with maker() as s:
        try:
            yield s
        finally:
            s.rollback()

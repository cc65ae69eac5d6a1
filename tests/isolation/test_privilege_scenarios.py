"""The engine's privilege scenarios can see what issue 8 found (findings 3 and 5).

* ``nested-route-without-parent-read``: a nested admin route that checks only its own
  permission — like the expense attachments and request chat did — is reported, and the
  real nested routes next to it are not.
* ``oversized-body``: with the body limit taken out of the app, oversized bodies are
  accepted and every route tried is reported; with it, none is.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from tenantry.app import create_app
from tenantry.isolation.context import TenantContext
from tenantry.kit.body_limit import BodyLimitMiddleware
from tenantry.permissions.dependencies import RequirePermission
from tenantry.probe import Engine, Report, SqlAdapter
from tenantry.probe.bodies import NAME as OVERSIZED
from tenantry.probe.bodies import oversized_bodies
from tenantry.probe.nested import NAME as NESTED
from tenantry.probe.nested import nested_permissions
from tenantry.probe.report import NOT_REFUSED
from tenantry.routing import tenant_router
from tests.isolation.conftest import route_table

LEAKY_NESTED = "GET /api/admin/expenses/{expense_id}/chat"
CHECKED = (
    "GET /api/admin/service-requests/{service_request_id}/chat",
    "GET /api/admin/expenses/{expense_id}/attachments",
    "GET /api/admin/service-requests/{request_id}",
    "POST /api/admin/service-requests/{request_id}/assign",  # an action, not a child
    "POST /api/admin/service-requests/{service_request_id}/attachments",  # upload
    "POST /api/auth/login",
    "POST /api/admin/expenses",
    "POST /api/payments/webhook",
)


def leaky_nested_router():  # type: ignore[no-untyped-def]
    router = tenant_router(prefix="/api/admin/expenses", tags=["leaky (test only)"])

    @router.get("/{expense_id}/chat")
    def leaky_expense_chat(
        expense_id: uuid.UUID,
        ctx: Annotated[TenantContext, Depends(RequirePermission("chat.read"))],
    ) -> dict[str, str]:
        """Deliberately leaky: a chat about an expense that checks only chat.read."""
        return {"expense_id": str(expense_id), "chat": "what the expense says"}

    return router


@pytest.fixture(scope="module")
def engine(settings, db, shared_world):  # type: ignore[no-untyped-def]
    """One run (sweep of the checked routes, then the two scenarios) on the app plus a
    deliberately leaky nested route."""
    app = create_app(settings, db)
    app.include_router(leaky_nested_router())
    select = (*CHECKED, LEAKY_NESTED)
    cfg = shared_world.config(
        settings, route_table=route_table(app), select=lambda k: k in select, scenarios=False
    )
    with TestClient(app) as client:
        engine = Engine(client, cfg, adapter=SqlAdapter(db))
        engine.run()
        nested_permissions(engine.s)
        oversized_bodies(engine.s)
        yield engine


def blamed(report: Report, probe: str) -> set[str]:
    return {f.route for f in report.of_kind(NOT_REFUSED) if f.probe.startswith(probe)}


def test_a_nested_route_without_its_parents_read_check_is_reported(engine):
    assert blamed(engine.report, NESTED) == {LEAKY_NESTED}
    assert engine.report.scenario_probes[NESTED] >= 2  # the real chat route was tried too


def test_with_the_body_limit_every_oversized_body_is_refused(engine):
    assert engine.report.scenario_probes[OVERSIZED] >= len(CHECKED)
    assert blamed(engine.report, OVERSIZED) == set()


def test_without_the_body_limit_the_oversized_bodies_are_reported(settings, db, engine):
    unlimited = create_app(settings, db)
    unlimited.include_router(leaky_nested_router())
    unlimited.user_middleware = [
        m for m in unlimited.user_middleware if m.cls is not BodyLimitMiddleware
    ]
    with TestClient(unlimited) as client:
        engine.s.t.client = client  # the same run, now against the app without the limit
        before = len(engine.report.findings)
        oversized_bodies(engine.s)
    found = engine.report.findings[before:]
    assert {f.route for f in found if f.probe.startswith(OVERSIZED)} == {*CHECKED, LEAKY_NESTED}

"""Every route of the real app solves its dependencies from a plan (tenantry.kit.dep_plan)
or is listed here with the reason it does not; and for every planned route, real
requests get the same answer from the app as from the same app built with FastAPI's own
solver (``TENANTRY_DEPENDENCY_PLAN=off``): same status, same JSON body (422s included,
request ids aside), same headers set.

The requests: each GET as it is (path ids that match nothing, no query) and with every
parameter wrong (a path id that is no UUID, every query parameter ``%bad``); every other
method only in ways that cannot write (a body of the wrong type, a bad path id), so the
two apps see the same database. The tenant's owner is signed in on both."""

from __future__ import annotations

import re
import typing
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.testclient import TestClient

from tenantry.app import create_app
from tenantry.kit import dep_plan
from tests.helpers import fastapi_own_handlers, login, module_tenant, served_handlers

tenant = module_tenant("tenant")

# Routes built outside ``tenantry.routing`` (no unit of work, no plan), and why.
UNPLANNED = {
    "GET /healthz": "the app's health router (no route hooks)",
    "POST /api/auth/login": "tenantry.auth builds its router below tenantry.routing",
    "GET /api/auth/me": "tenantry.auth",
    "POST /api/auth/logout": "tenantry.auth",
    "POST /api/auth/logout-all": "tenantry.auth",
    "POST /api/tenant/switch": "tenantry.auth",
    "GET /api/operator/tenants": "tenantry.operator builds its router with scoped_router",
    "POST /api/operator/tenants": "tenantry.operator",
    "GET /api/operator/tenants/{slug}": "tenantry.operator",
    "GET /api/operator/tenants/{slug}/tables/{table}": "tenantry.operator",
    "POST /api/operator/tenants/{slug}/suspend": "tenantry.operator",
    "POST /api/operator/tenants/{slug}/reactivate": "tenantry.operator",
    "POST /api/operator/tenants/{slug}/members/{user_id}/role": "tenantry.operator",
    "POST /api/operator/tenants/{slug}/members/{user_id}/remove": "tenantry.operator",
    "GET /api/operator/audit-log": "tenantry.operator",
}
SAMPLE = "0f0e0d0c-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def apps(settings: Any, db: Any) -> Iterator[tuple[FastAPI, FastAPI]]:
    # FastAPI's own handlers, not Sentry's wrapper if a test started the SDK in this
    # process (the plan leaves a wrapped handler to FastAPI's solver).
    with fastapi_own_handlers():
        planned = create_app(settings, db)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(dep_plan.ENV, "off")
            own = create_app(settings, db)
            served_handlers(own)
        served_handlers(planned)
    yield planned, own


def test_every_route_is_planned_or_listed_with_its_reason(apps: tuple[FastAPI, FastAPI]) -> None:
    planned_app, own_app = apps
    planned, unplanned = [], {}
    for label, _, handler in served_handlers(planned_app):
        if isinstance(getattr(handler, dep_plan.PLAN_ATTR, None), dep_plan.DependencyPlan):
            planned.append(label)
        else:
            unplanned[label] = getattr(handler, dep_plan.FALLBACK_ATTR, "no route hooks")
    assert set(unplanned) == set(UNPLANNED), unplanned
    assert all(reason == "no route hooks" for reason in unplanned.values()), unplanned
    assert len(planned) >= 140
    # The other app really is FastAPI's own solver everywhere.
    for label, _, handler in served_handlers(own_app):
        assert not hasattr(handler, dep_plan.PLAN_ATTR), label


def test_the_apps_body_free_routes_take_the_lean_handler(apps: tuple[FastAPI, FastAPI]) -> None:
    """Every planned route with no body (all of them async, run in the request's unit)
    is served by the lean handler (session 12), the bench's read among them, so the
    real requests below compare it with FastAPI's own handler and solver."""
    planned_app, _ = apps
    lean, other = [], []
    for label, rc, handler in served_handlers(planned_app):
        if not hasattr(handler, dep_plan.PLAN_ATTR):
            continue
        (lean if getattr(handler, dep_plan.LEAN_ATTR, False) else other).append(label)
        assert getattr(handler, dep_plan.LEAN_ATTR, False) == (rc.body_field is None), label
    assert "GET /api/admin/bookings/{booking_id}" in lean
    assert len(lean) >= 80, (len(lean), len(other))


def _path_value(annotation: Any) -> str:
    if annotation is uuid.UUID:
        return SAMPLE
    if typing.get_origin(annotation) is typing.Literal:
        return str(typing.get_args(annotation)[0])
    return "x"


def _where(field: Any) -> str:
    return str(field.field_info.in_.value)


def _requests(rc: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """The requests sent to one route (method, url, client keywords)."""
    flat = get_flat_params(rc.dependant)
    path_params = [f for f in flat if _where(f) == "path"]
    query_params = [f for f in flat if _where(f) == "query"]
    path = rc.path
    good, bad = path, path
    for field in path_params:
        value = _path_value(field.field_info.annotation)
        pattern = r"\{" + re.escape(field.alias) + r"(:[a-z]+)?\}"
        good = re.sub(pattern, value, good)
        bad = re.sub(pattern, "not-a-uuid" if value == SAMPLE else value, bad)
    query = "&".join(f"{f.alias}=%25bad" for f in query_params)
    out: list[tuple[str, str, dict[str, Any]]] = []
    for method in sorted(rc.methods):
        if method == "GET":
            out.append((method, good, {}))
            paging = [f.alias for f in query_params if f.alias in ("limit", "offset")]
            if paging:
                out.append((method, good + "?" + "&".join(f"{a}=1" for a in paging), {}))
            if query or bad != good:
                out.append((method, bad + ("?" + query if query else ""), {}))
        elif rc.dependant.body_params:
            out.append((method, good, {"json": []}))
            if bad != good:
                out.append((method, bad, {"json": []}))
        elif bad != good:
            out.append((method, bad, {}))
    return out


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "request_id"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _answer(client: TestClient, method: str, url: str, kw: dict[str, Any]) -> Any:
    response = client.request(method, url, **kw)
    kind = response.headers.get("content-type", "")
    body = _strip(response.json()) if kind.startswith("application/json") else None
    names = sorted({k for k in response.headers if k not in ("date", "content-length")})
    return response.status_code, kind, body, names


def test_planned_routes_answer_real_requests_as_fastapi_does(
    apps: tuple[FastAPI, FastAPI], tenant: Any
) -> None:
    planned_app, own_app = apps
    sent = 0
    statuses: dict[int, int] = {}
    for role in ("owner", "client"):  # the admin routes and the portal's
        with TestClient(planned_app) as a, TestClient(own_app) as b:
            login(a, tenant[role])
            login(b, tenant[role])
            for label, rc, handler in served_handlers(planned_app):
                if not hasattr(handler, dep_plan.PLAN_ATTR):
                    continue
                for method, url, kw in _requests(rc):
                    mine = _answer(a, method, url, kw)
                    theirs = _answer(b, method, url, kw)
                    assert mine == theirs, (role, label, method, url)
                    sent += 1
                    statuses[mine[0]] = statuses.get(mine[0], 0) + 1
    assert sent > 400
    # The comparison covered answers of every kind: served, refused, not found, invalid
    # (seen: 200 x 79, 403 x 177, 404 x 49, 422 x 131, 401 x 2 of 438).
    assert statuses.get(200, 0) > 60 and statuses.get(403, 0) > 100, statuses
    assert statuses.get(404, 0) > 30 and statuses.get(422, 0) > 100, statuses

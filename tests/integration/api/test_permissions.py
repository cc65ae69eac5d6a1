"""Permissions: the matrix, editing a role, and enforcement on the next request."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from tenantry.errors import TenantryError
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.kit.errors import ConstraintConflict
from tenantry.permissions import service
from tenantry.permissions.catalog import DEFAULT_MATRIX, PERMISSIONS
from tenantry.permissions.models import RolePermission
from tests.factories import make_tenant
from tests.helpers import code
from tests.integration.api._logged_in import SignedIn

MATRIX = "/api/admin/permissions"
SERVICES = "/api/admin/services"


@pytest.fixture(scope="module")
def as_(app):
    signed_in = SignedIn(app)
    yield signed_in
    signed_in.close()


@pytest.fixture(scope="module")
def fixed(db):
    """A tenant whose matrix only refused requests touch (it must stay at the defaults)."""
    return make_tenant(db)


@pytest.fixture
def fresh(db):
    return make_tenant(db, roles=("owner", "admin", "staff"))


def stored(db, tenant) -> list[tuple[str, str]]:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return sorted((r.role, r.permission) for r in s.scalars(select(RolePermission)).all())


def roles_of(response) -> dict[str, list[str]]:
    return {r["role"]: r["permissions"] for r in response.json()["roles"]}


def staff_without(permission: str) -> list[str]:
    return sorted(DEFAULT_MATRIX["staff"] - {permission})


def test_the_matrix_shows_the_catalogue_and_each_roles_defaults(as_, fixed):
    r = as_(fixed["staff"]).get(MATRIX)
    assert r.status_code == 200
    assert {p["key"] for p in r.json()["permissions"]} == set(PERMISSIONS)
    roles = roles_of(r)
    assert roles["owner"] == sorted(PERMISSIONS)
    assert roles["staff"] == sorted(DEFAULT_MATRIX["staff"]) and roles["client"] == []
    editable = {x["role"]: x["editable"] for x in r.json()["roles"]}
    assert editable == {"owner": False, "admin": True, "staff": True, "client": False}


def test_removing_services_read_from_staff_refuses_staff_on_their_next_request(as_, db, fresh):
    staff, owner = as_(fresh["staff"]), as_(fresh["owner"])
    assert staff.get(SERVICES).status_code == 200  # warms the tenant's cached matrix
    r = owner.put(f"{MATRIX}/staff", json={"permissions": staff_without("services.read")})
    assert r.status_code == 200, r.text
    assert "services.read" not in roles_of(r)["staff"]
    assert [x["customized"] for x in r.json()["roles"] if x["role"] == "staff"] == [True]
    refused = staff.get(SERVICES)
    assert refused.status_code == 403 and code(refused) == "role_required"
    assert owner.get(SERVICES).status_code == 200
    assert as_(fresh["admin"]).get(SERVICES).status_code == 200
    assert ("staff", "services.read") not in stored(db, fresh)


def test_granting_a_permission_lets_staff_use_the_route(as_, fresh):
    staff = as_(fresh["staff"])
    post = {"slug": "staff-post", "title": "By staff"}
    assert code(staff.post("/api/admin/posts", json=post)) == "role_required"
    grant = sorted(DEFAULT_MATRIX["staff"] | {"posts.write"})
    assert (
        as_(fresh["admin"]).put(f"{MATRIX}/staff", json={"permissions": grant}).status_code == 200
    )
    assert staff.post("/api/admin/posts", json=post).status_code == 201


def test_one_tenants_matrix_never_changes_anothers(as_, db, fresh, fixed):
    fixed_staff = as_(fixed["staff"])
    assert fixed_staff.get(SERVICES).status_code == 200  # warm both caches
    as_(fresh["owner"]).put(f"{MATRIX}/staff", json={"permissions": ["posts.read"]})
    assert fixed_staff.get(SERVICES).status_code == 200
    assert roles_of(fixed_staff.get(MATRIX))["staff"] == sorted(DEFAULT_MATRIX["staff"])
    assert stored(db, fixed) == []


def test_owner_and_client_roles_cannot_be_changed(as_, db, fixed):
    owner = as_(fixed["owner"])
    for role in ("owner", "client"):
        r = owner.put(f"{MATRIX}/{role}", json={"permissions": ["services.read"]})
        assert r.status_code == 409 and code(r) == "role_not_editable"
    assert stored(db, fixed) == []


def test_unknown_permissions_roles_and_empty_lists_are_422_and_nothing_is_stored(as_, db, fixed):
    owner = as_(fixed["owner"])
    for path, payload in (
        (f"{MATRIX}/staff", {"permissions": ["services.read", "everything.please"]}),
        (f"{MATRIX}/staff", {"permissions": []}),
        (f"{MATRIX}/staff", {"permissions": ["services.read", "services.read"]}),
        (f"{MATRIX}/staff", {}),
        (f"{MATRIX}/staff", {"permissions": ["services.read"], "tenant_id": str(fixed.id)}),
        (f"{MATRIX}/superuser", {"permissions": ["services.read"]}),
    ):
        r = owner.put(path, json=payload)
        assert r.status_code == 422 and code(r) == "validation_error", payload
    assert stored(db, fixed) == []


def test_only_permissions_manage_may_change_the_matrix(as_, db, fixed):
    for role in ("staff", "client"):
        r = as_(fixed[role]).put(f"{MATRIX}/staff", json={"permissions": ["services.read"]})
        assert r.status_code == 403 and code(r) == "role_required"
    assert stored(db, fixed) == []


def test_an_admin_without_permissions_manage_is_refused_next_time(as_, db, fresh):
    admin, owner = as_(fresh["admin"]), as_(fresh["owner"])
    reduced = sorted(set(PERMISSIONS) - {"permissions.manage"})
    # Nobody edits the role they hold (issue 8): the owner takes it away.
    r = admin.put(f"{MATRIX}/admin", json={"permissions": reduced})
    assert r.status_code == 403 and code(r) == "own_role_change"
    assert owner.put(f"{MATRIX}/admin", json={"permissions": reduced}).status_code == 200
    r = admin.put(f"{MATRIX}/staff", json={"permissions": ["services.read"]})
    assert r.status_code == 403 and code(r) == "role_required"
    assert (
        as_(fresh["owner"])
        .put(f"{MATRIX}/admin", json={"permissions": sorted(PERMISSIONS)})
        .status_code
        == 200
    )


def test_a_client_cannot_read_the_matrix_and_signed_out_is_401(as_, client, fixed):
    r = as_(fixed["client"]).get(MATRIX)
    assert r.status_code == 403 and code(r) == "role_required"
    assert client.get(MATRIX).status_code == 401


def test_each_member_reads_only_their_own_roles_permissions(as_, fresh, db):
    """``GET /api/tenant/permissions``: what the pages offer. A change to the staff role
    shows on the staff member's next read; a client holds nothing."""
    mine = "/api/tenant/permissions"
    assert as_(fresh["owner"]).get(mine).json() == {
        "role": "owner",
        "permissions": sorted(PERMISSIONS),
    }
    staff = as_(fresh["staff"]).get(mine).json()
    assert staff == {"role": "staff", "permissions": sorted(DEFAULT_MATRIX["staff"])}
    assert "contact.read" not in staff["permissions"]
    r = as_(fresh["owner"]).put(f"{MATRIX}/staff", json={"permissions": ["bookings.read"]})
    assert r.status_code == 200, r.text
    assert as_(fresh["staff"]).get(mine).json()["permissions"] == ["bookings.read"]
    client = make_tenant(db, roles=("owner", "client"))["client"]
    assert as_(client).get(mine).json() == {"role": "client", "permissions": []}


def test_a_role_replaced_twice_at_once_answers_the_second_409_conflict(db, fresh):
    """Two owners save the staff role at the same moment: the second's rows collide
    with the first's; it gets the kit's 409 `conflict` and the first's list stands."""
    ctx = TenantContext(tenant_id=fresh.id, user_id=fresh["owner"].user_id, role="owner")
    first_list = staff_without("bookings.write")
    second_list = staff_without("requests.write")
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with tenant_context(ctx), db.session() as s:
                service.set_role(s, ctx=ctx, role="staff", permissions=second_list)
        except TenantryError as exc:
            outcome["error"] = exc

    with tenant_context(ctx), db.session() as s:
        service.set_role(s, ctx=ctx, role="staff", permissions=first_list)
        thread = threading.Thread(target=second)
        thread.start()
        _wait_until_blocked(db, thread)
    thread.join(timeout=60)
    assert not thread.is_alive()
    error = outcome.get("error")
    assert isinstance(error, ConstraintConflict) and error.code == "conflict"
    assert error.status_code == 409
    assert stored(db, fresh) == sorted(("staff", p) for p in first_list)


def _wait_until_blocked(db, thread: threading.Thread) -> None:
    """Until the second transaction waits for the first's row lock (or has ended)."""
    waiting = text(
        "select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid"
        " where not l.granted and a.datname = current_database()"
    )
    for _ in range(600):
        with db.app_engine.connect() as conn:
            if conn.execute(waiting).scalar_one() or not thread.is_alive():
                return
        time.sleep(0.05)
    raise AssertionError("the second replacement never waited for the first")

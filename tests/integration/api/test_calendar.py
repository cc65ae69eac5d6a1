"""The staff calendar over HTTP: GET /api/admin/calendar?from=&to=."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenantry.bookings.models import Booking
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.services.models import Service
from tests.factories import make_tenant
from tests.helpers import code, login

URL = "/api/admin/calendar"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def seed(db: Any, tenant: Any, day: datetime, name: str) -> dict[str, uuid.UUID]:
    """A service and four bookings around ``day``: two inside, one cancelled inside,
    one the day after."""
    ids: dict[str, uuid.UUID] = {}
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        svc = Service(
            slug="svc-" + uuid.uuid4().hex[:8], name=name, price_cents=100, duration_minutes=60
        )
        s.add(svc)
        s.flush()
        ids["service"] = svc.id
        for key, hour, status, assignee in (
            ("late", 15, "confirmed", tenant["staff"].user_id),
            ("early", 8, "pending", None),
            ("cancelled", 11, "cancelled", None),
            ("tomorrow", 24 + 9, "pending", None),
        ):
            start = day + timedelta(hours=hour)
            row = Booking(
                client_id=tenant["client"].user_id,
                service_id=svc.id,
                assignee_id=assignee,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                status=status,
            )
            s.add(row)
            s.flush()
            ids[key] = row.id
    return ids


@pytest.fixture(scope="module")
def setup(db: Any, app: Any) -> Any:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=3)
    tenant_a = make_tenant(db, roles=("staff", "client"))
    tenant_b = make_tenant(db, roles=("staff", "client"))
    ids_a = seed(db, tenant_a, day, "Gutter cleaning")
    ids_b = seed(db, tenant_b, day, "Globex secret service")
    staff, client = TestClient(app), TestClient(app)
    login(staff, tenant_a["staff"])
    login(client, tenant_a["client"])
    yield {"day": day, "a": ids_a, "b": ids_b, "staff": staff, "client": client, "ta": tenant_a}
    staff.close()
    client.close()


def test_staff_sees_the_days_bookings_with_service_names(setup: Any) -> None:
    day = setup["day"]
    response = setup["staff"].get(
        URL, params={"from": iso(day), "to": iso(day + timedelta(days=1))}
    )
    assert response.status_code == 200, response.text
    entries = response.json()
    assert [e["id"] for e in entries] == [str(setup["a"]["early"]), str(setup["a"]["late"])]
    late = entries[1]
    assert late["service_name"] == "Gutter cleaning"
    assert late["service_id"] == str(setup["a"]["service"])
    assert late["client_id"] == str(setup["ta"]["client"].user_id)
    assert late["assignee_id"] == str(setup["ta"]["staff"].user_id)
    assert late["status"] == "confirmed"


def test_cancelled_bookings_show_only_on_request(setup: Any) -> None:
    day = setup["day"]
    params = {"from": iso(day), "to": iso(day + timedelta(days=1)), "include_cancelled": "true"}
    ids = [e["id"] for e in setup["staff"].get(URL, params=params).json()]
    assert str(setup["a"]["cancelled"]) in ids and len(ids) == 3


def test_a_booking_that_overlaps_the_range_edge_is_included(setup: Any) -> None:
    day = setup["day"]
    params = {
        "from": iso(day + timedelta(hours=15, minutes=30)),
        "to": iso(day + timedelta(hours=16)),
    }
    assert [e["id"] for e in setup["staff"].get(URL, params=params).json()] == [
        str(setup["a"]["late"])
    ]


def test_the_calendar_of_a_never_shows_bookings_of_b(setup: Any) -> None:
    day = setup["day"]
    params = {"from": iso(day - timedelta(days=1)), "to": iso(day + timedelta(days=5))}
    entries = setup["staff"].get(URL, params=params).json()
    ids = {e["id"] for e in entries}
    assert ids == {str(setup["a"][k]) for k in ("early", "late", "tomorrow")}
    assert not ids & {str(v) for v in setup["b"].values()}
    assert "Globex secret service" not in {e["service_name"] for e in entries}


def test_client_cannot_read_the_calendar(setup: Any) -> None:
    day = setup["day"]
    response = setup["client"].get(URL, params={"from": iso(day), "to": iso(day + timedelta(1))})
    assert response.status_code == 403 and code(response) == "role_required"


def test_a_range_over_62_days_is_422(setup: Any) -> None:
    day = setup["day"]
    ok = setup["staff"].get(URL, params={"from": iso(day), "to": iso(day + timedelta(days=62))})
    assert ok.status_code == 200
    response = setup["staff"].get(
        URL, params={"from": iso(day), "to": iso(day + timedelta(days=62, seconds=1))}
    )
    assert response.status_code == 422 and code(response) == "range_too_long"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2031-01-01T00:00:00Z"},
        {"from": "2031-01-01T00:00:00", "to": "2031-01-02T00:00:00"},
        {"from": "yesterday", "to": "2031-01-02T00:00:00Z"},
    ],
)
def test_missing_or_invalid_bounds_are_422(setup: Any, params: dict[str, str]) -> None:
    response = setup["staff"].get(URL, params=params)
    assert response.status_code == 422 and code(response) == "validation_error"


def test_an_inverted_range_is_422(setup: Any) -> None:
    day = setup["day"]
    response = setup["staff"].get(URL, params={"from": iso(day), "to": iso(day)})
    assert response.status_code == 422 and code(response) == "invalid_time_range"

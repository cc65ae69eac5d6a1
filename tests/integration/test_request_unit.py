"""One unit of work per request (issue 11, item 1): one connection checkout, one
transaction, at most 4 round trips, one call onto the event loop and no thread-pool hop
for an authenticated single-row GET — and revocation still takes effect on the very next
request, even one pipelined behind the revoking request on the same HTTP connection.

Round trips are counted from libpq's protocol trace (``tests/roundtrips.py``).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from tenantry.app import create_app
from tenantry.bookings.models import Booking
from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tests.factories import make_service, make_tenant
from tests.helpers import login
from tests.hops import counting
from tests.integration.test_identity_attacks import served
from tests.roundtrips import Trip, trace_engine


@pytest.fixture(scope="module")
def own_db(database_urls: Any) -> Iterator[Database]:
    """A Database of its own, so tracing its pool sees only this module's requests."""
    database = Database(database_urls, pool_size=2, max_overflow=0)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def world(db: Database) -> Any:
    tenant = make_tenant(db, roles=("owner", "staff", "client"))
    service = make_service(db, tenant.id)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        row = Booking(
            client_id=tenant["client"].user_id,
            service_id=service,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            status="pending",
        )
        s.add(row)
        s.flush()
        booking = row.id
    return tenant, booking


@pytest.fixture(scope="module")
def staff_client(settings: Any, own_db: Database, world: Any) -> Iterator[TestClient]:
    tenant, _ = world
    with TestClient(create_app(settings, own_db)) as client:
        login(client, tenant["staff"])
        yield client


def _request_connections(trip: Trip, marker: str) -> list[list[str]]:
    """The traced connections whose messages mention ``marker`` (the app's telemetry
    may flush on the same engine meanwhile; it never names the request's table)."""
    return [lines for lines in trip.per_connection() if any(marker in line for line in lines)]


def _bare_round_trips(urls: Any, tenant_id: uuid.UUID, booking: uuid.UUID) -> int:
    """The bare endpoint's transaction (bench/api_throughput): psycopg's own BEGIN,
    set_config, the row, COMMIT — as the app role, under the same RLS policy."""
    trip = Trip()
    app_url = urls.app
    with psycopg.connect(
        host=app_url.query.get("host") or app_url.host,
        port=app_url.port,
        dbname=urls.database,
        user=app_url.username,
        password=app_url.password,
    ) as conn:
        trip.attach(conn)
        conn.execute("select set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
        row = conn.execute(sql.SQL("select * from bookings where id = %s"), (booking,)).fetchone()
        conn.commit()
        trip.detach(conn)
    trip.close()
    assert row is not None
    return trip.count


def test_an_authenticated_single_row_get_is_one_checkout_and_at_most_the_bare_round_trips(
    staff_client: TestClient, own_db: Database, world: Any, database_urls: Any
) -> None:
    tenant, booking = world
    path = f"/api/admin/bookings/{booking}"
    assert staff_client.get(path).status_code == 200  # warm: the permission matrix cached
    with trace_engine(own_db.loop_engine) as trip:  # the engine requests' units use
        response = staff_client.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(booking)
    used = _request_connections(trip, "bookings")
    assert len(used) == 1, f"the request used {len(used)} connections"
    lines = used[0]
    trips = sum(1 for line in lines if line.startswith("B\t") and "ReadyForQuery" in line)
    sent = [line for line in lines if line.startswith("F\t")]
    # The access check ran in the same connection, in the same (one) transaction: its
    # prepared read rides in the BEGIN message, after the pin (tenantry.db.dialect.Rider).
    begins = [line for line in sent if "BEGIN" in line]
    assert len(begins) == 1, sent
    assert "; EXECUTE tenantry_access(" in begins[0], begins[0]
    assert begins[0].index("SET LOCAL app.current_user_id") < begins[0].index("EXECUTE"), begins
    assert begins[0].startswith("F\t") and "BEGIN READ ONLY; " in begins[0], begins
    bare = _bare_round_trips(database_urls, tenant.id, booking)
    assert bare == 4
    # BEGIN + pin + access check; the endpoint's SELECT with the COMMIT (the route is a
    # single_read): two fewer than bare.
    assert trips <= bare - 2, f"{trips} round trips (bare endpoint: {bare}):\n" + "\n".join(sent)
    assert any(line.rstrip('"').endswith("; COMMIT") for line in lines), "\n".join(lines)


def test_an_authenticated_single_row_get_takes_one_call_on_the_loop_and_no_thread_hop(
    staff_client: TestClient, world: Any
) -> None:
    """The access check (deferred: the session was verified before), the endpoint and
    its commit in one call on the event loop: every other dependency of the route runs
    on the event loop too (no sync dependency left on the hot path)."""
    _, booking = world
    path = f"/api/admin/bookings/{booking}"
    assert staff_client.get(path).status_code == 200
    with counting() as hops:
        response = staff_client.get(path)
    assert response.status_code == 200
    assert hops.loop == ["RequestUnit.run"], hops
    assert hops.threads == [], hops


def test_a_request_on_the_tenant_host_resolves_the_host_without_a_thread_hop(
    staff_client: TestClient, world: Any
) -> None:
    """The host's tenant comes from the resolver's cache on the event loop once known:
    a request on ``<slug>.<base>`` takes the same hops as one on a neutral host."""
    tenant, booking = world
    path, host = f"/api/admin/bookings/{booking}", {"host": f"{tenant.slug}.localhost"}
    assert staff_client.get(path, headers=host).status_code == 200  # warm: host cached
    with counting() as seen:
        response = staff_client.get(path, headers=host)
        unknown = staff_client.get("/healthz", headers={"host": "no-such-tenant-zz9.localhost"})
        again = staff_client.get("/healthz", headers={"host": "no-such-tenant-zz9.localhost"})
    hops = seen.calls
    assert response.status_code == 200, response.text
    assert unknown.status_code == again.status_code == 404  # a missing tenant is cached too
    assert sum("HostResolver" in hop for hop in hops) == 1, hops  # the first unknown only
    assert len(hops) <= 2, hops  # the booking's 1 + the unknown host's first look-up


def _http(method: str, path: str, cookies: dict[str, str], host: str) -> bytes:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """``count`` HTTP/1.1 responses (status, body) read off one keep-alive socket."""
    buffer = b""
    out: list[tuple[int, bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(  # a 204 carries no body and no length
            (int(line.split(":", 1)[1]) for line in lines
             if line.lower().startswith("content-length:")),
            0,
        )  # fmt: skip
        while len(buffer) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-body"
            buffer += chunk
        out.append((status, buffer[:length]))
        buffer = buffer[length:]
    return out


def _pipelined(base: str, first: bytes, second: bytes) -> list[tuple[int, bytes]]:
    """Both requests written at once on one connection; the server answers in order."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(first + second)
        return _read_responses(sock, 2)


def _signed_in_cookies(base: str, member: Any) -> dict[str, str]:
    import httpx

    with httpx.Client(base_url=base, timeout=120) as client:
        r = client.post(
            "/api/auth/login", json={"email": member.email, "password": member.password}
        )
        assert r.status_code == 200, r.text
        return dict(client.cookies)


@pytest.fixture(scope="module")
def server(settings: Any, own_db: Database) -> Iterator[str]:
    with served(create_app(settings, own_db), settings) as base:
        yield base


def test_logout_everywhere_refuses_the_request_pipelined_right_behind_it(
    server: str, db: Database
) -> None:
    tenant = make_tenant(db, roles=("staff",))
    cookies = _signed_in_cookies(server, tenant["staff"])
    host = server.removeprefix("http://")
    before = _pipelined(
        server,
        _http("GET", "/api/tenant/current", cookies, host),
        _http("GET", "/api/tenant/current", cookies, host),
    )
    assert [status for status, _ in before] == [200, 200]  # the same cookies work twice
    (revoke, revoke_body), (after, body) = _pipelined(
        server,
        _http("POST", "/api/auth/logout-all", cookies, host),
        _http("GET", "/api/tenant/current", cookies, host),
    )
    assert revoke == 200, revoke_body
    assert after == 403 and b"session_revoked" in body, (after, body)


def test_a_removed_member_is_refused_on_the_request_pipelined_right_behind_the_removal(
    server: str, db: Database
) -> None:
    tenant = make_tenant(db, roles=("owner", "staff"))
    owner = _signed_in_cookies(server, tenant["owner"])
    staff = _signed_in_cookies(server, tenant["staff"])
    host = server.removeprefix("http://")
    staff_id = tenant["staff"].user_id
    (removed, removed_body), (after, body) = _pipelined(
        server,
        _http("DELETE", f"/api/admin/team-members/{staff_id}", owner, host),
        _http("GET", "/api/tenant/current", staff, host),
    )
    assert removed == 204, removed_body
    assert after == 403 and b"not_a_member" in body, (after, body)

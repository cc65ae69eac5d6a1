"""Request bodies are bounded while they stream in, per route, before anything buffers them.

Issue 8, finding 3: the idempotency middleware read the whole body of any POST with an
``Idempotency-Key`` before authentication, and JSON routes and the webhook buffered any
size before their checks. Each test counts the bytes the app pulled (``tests.asgi_stream``).
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tenantry.app import body_limits
from tenantry.kit.body_limit import LIMIT_KEY, LIMITS_INFO_KEY
from tests.asgi_stream import MiB, cookie_header, stream_request
from tests.factories import make_tenant
from tests.helpers import login
from tests.integration.api.test_attachments import make_request

HUGE = 300 * MiB


def assert_413(answer, limit: int) -> None:
    assert answer.status == 413, (answer.status, answer.body[:300])
    error = answer.json()["error"]
    assert error["code"] == "payload_too_large" and error["request_id"]
    assert answer.headers["x-request-id"] == error["request_id"]
    assert answer.headers["connection"] == "close"
    # Never buffered: the app stopped at the chunk that crossed the limit.
    assert answer.pulled <= limit + MiB, answer.pulled


@pytest.fixture(scope="module")
def tenant(db):
    return make_tenant(db, roles=("owner", "staff", "client"))


@pytest.fixture(scope="module")
def staff_cookies(app, tenant):
    with TestClient(app) as c:
        login(c, tenant["staff"])
        return cookie_header(c)


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/admin/expenses",  # tenant JSON route
        "/api/auth/login",  # public JSON route
        "/api/public/contact",
        "/api/payments/webhook",  # system route, webhook class
        # POST without a body; a fixed id, so every pytest-xdist worker collects one name
        "/api/admin/expenses/" + str(uuid.UUID(int=1)) + "/approve",
    ],
)
def test_an_unauthenticated_300_mb_post_with_idempotency_key_is_413_unbuffered(
    app, settings, path, declare_length
):
    limits = body_limits(settings)
    limit = limits.webhook if "webhook" in path else limits.json
    answer = stream_request(
        app,
        path,
        total=HUGE,
        headers={"idempotency-key": "k-" + uuid.uuid4().hex, "content-type": "application/json"},
        declare_length=declare_length,
    )
    if declare_length:
        assert_413(answer, limit)
        assert answer.pulled == 0  # refused on the declared length alone
    elif path.endswith("/approve"):
        # A route that takes no body never reads it: refused (401) with nothing pulled.
        assert answer.status == 401 and answer.pulled <= MiB
    else:
        assert_413(answer, limit)


def test_an_unauthenticated_upload_is_refused_without_reading_its_body(app, tenant):
    path = f"/api/admin/service-requests/{uuid.uuid4()}/attachments"
    answer = stream_request(
        app,
        path,
        total=HUGE,
        headers={
            "idempotency-key": "k-" + uuid.uuid4().hex,
            "content-type": "multipart/form-data; boundary=x",
        },
    )
    # Authentication comes first on upload routes (they stream their own body), and the
    # idempotency middleware reads nothing before the tenant is known.
    assert answer.status == 401 and answer.pulled <= MiB


def test_an_authenticated_upload_with_idempotency_key_stops_at_the_upload_limit(
    app, db, settings, tenant, staff_cookies
):
    request_id = make_request(db, tenant)
    answer = stream_request(
        app,
        f"/api/admin/service-requests/{request_id}/attachments",
        total=HUGE,
        headers={
            "idempotency-key": "k-" + uuid.uuid4().hex,
            "content-type": "multipart/form-data; boundary=x",
            "cookie": staff_cookies,
        },
    )
    assert_413(answer, body_limits(settings).upload)


def test_a_body_of_exactly_the_limit_is_read_and_validated_not_refused(
    app, settings, staff_cookies
):
    limit = body_limits(settings).json
    headers = {"idempotency-key": "k-" + uuid.uuid4().hex, "content-type": "application/json"}
    answer = stream_request(
        app,
        "/api/admin/expenses",
        total=limit,
        chunk=64 * 1024,
        headers={**headers, "cookie": staff_cookies},
    )
    assert answer.pulled == limit
    assert answer.status == 422 and answer.json()["error"]["code"] == "validation_error"


def test_every_operation_publishes_its_limit_class_and_the_413(app, settings):
    with TestClient(app) as c:
        doc = c.get("/openapi.json").json()
    assert doc["info"][LIMITS_INFO_KEY] == body_limits(settings).as_dict()
    with_body = [
        (path, method, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and "requestBody" in op
    ]
    assert with_body
    for path, method, op in with_body:
        assert "413" in op["responses"], (method, path)
        expected = (
            "upload"
            if path.endswith("/attachments")
            else "webhook"
            if path.endswith("/webhook")
            else "json"
        )
        assert op[LIMIT_KEY] == expected, (method, path)


def test_an_upload_with_idempotency_key_is_spooled_after_authentication_and_replayed(
    app, db, tenant, staff_cookies
):
    """The guard reads an upload's body (after authentication) into a spool the route
    then reads: the file arrives intact, and a retry is replayed, not stored twice."""
    from tests.integration.api.test_attachments import PNG, attachment_count

    request_id = make_request(db, tenant)
    before = attachment_count(db, tenant)
    key = "k-" + uuid.uuid4().hex
    data = PNG + bytes(3 * MiB)  # over the spool's in-memory part: goes through disk
    with TestClient(app) as c:
        c.headers["cookie"] = staff_cookies
        path = f"/api/admin/service-requests/{request_id}/attachments"
        # One fixed multipart body (the client would draw a new boundary per call).
        body = (
            b"--b0undary\r\n"
            b'Content-Disposition: form-data; name="file"; filename="scan.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + data + b"\r\n--b0undary--\r\n"
        )
        headers = {
            "idempotency-key": key,
            "content-type": "multipart/form-data; boundary=b0undary",
        }
        one = c.post(path, content=body, headers=headers)
        two = c.post(path, content=body, headers=headers)
    assert one.status_code == 201, one.text
    assert one.json()["size_bytes"] == len(data)
    assert two.status_code == 201 and two.headers["idempotent-replayed"] == "true"
    assert two.content == one.content
    assert attachment_count(db, tenant) == before + 1

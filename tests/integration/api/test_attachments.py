"""Attachments: uploads (size, type, sniffing), scanned downloads, the scanner callback."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tenantry.app import create_app
from tenantry.attachments.models import Attachment
from tenantry.expenses.models import Expense
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tenantry.settings import Settings
from tests.helpers import code, login, module_tenant

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64)


def make_request(db, tenant, client_role: str = "client") -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        svc = Service(
            slug="svc-" + uuid.uuid4().hex[:8], name="Repair", price_cents=1000, duration_minutes=60
        )
        s.add(svc)
        s.flush()
        req = ServiceRequest(
            client_id=tenant[client_role].user_id, service_id=svc.id, title="Leaking tap"
        )
        s.add(req)
        s.flush()
        return req.id


def make_expense(db, tenant) -> uuid.UUID:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        exp = Expense(
            user_id=tenant["staff"].user_id,
            amount_cents=1234,
            category="fuel",
            incurred_on=date(2026, 11, 20),
        )
        s.add(exp)
        s.flush()
        return exp.id


def attachment_count(db, tenant) -> int:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return s.scalar(select(func.count()).select_from(Attachment)) or 0


def files_on_disk(settings, tenant) -> list[str]:
    folder = settings.upload_dir / str(tenant.id)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def upload(client, path, data=PNG, name="photo.png", ctype="image/png"):
    return client.post(path, files={"file": (name, data, ctype)})


def scan(client, settings, attachment_id, result, secret=None):
    return client.post(
        "/api/attachments/scan-callback",
        json={"attachment_id": str(attachment_id), "result": result},
        headers={"X-Scanner-Secret": settings.av_secret if secret is None else secret},
    )


# Tenants are made once per module (making members is the slow part); every test
# makes its own requests and compares counts before and after.
tenant_a = module_tenant("tenant_a")
tenant_b = module_tenant("tenant_b")


@pytest.fixture
def request_a(db, tenant_a) -> uuid.UUID:
    return make_request(db, tenant_a)


@pytest.fixture
def baseline(db, settings, tenant_a, tenant_b):
    """Rows and files of both tenants before the test; ``unchanged()`` compares."""

    def snapshot():
        return (
            attachment_count(db, tenant_a),
            files_on_disk(settings, tenant_a),
            attachment_count(db, tenant_b),
            files_on_disk(settings, tenant_b),
        )

    before = snapshot()
    return lambda: snapshot() == before


# ---------------------------------------------------------------- admin upload


def test_staff_uploads_a_file_to_a_request_stored_under_a_random_name(
    client, db, settings, tenant_a, request_a
):
    login(client, tenant_a["staff"])
    r = upload(
        client, f"/api/admin/service-requests/{request_a}/attachments", name="../../etc/passwd.png"
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["scan_status"] == "pending" and body["filename"] == "passwd.png"
    assert body["size_bytes"] == len(PNG) and body["service_request_id"] == str(request_a)
    assert body["uploaded_by_id"] == str(tenant_a["staff"].user_id)
    with tenant_context(TenantContext(tenant_id=tenant_a.id)), db.session() as s:
        key = s.scalar(select(Attachment.storage_key).where(Attachment.id == uuid.UUID(body["id"])))
    prefix, name = key.split("/")
    assert prefix == str(tenant_a.id) and len(name) == 32 and "passwd" not in name
    assert (settings.upload_dir / str(tenant_a.id) / name).read_bytes() == PNG


def test_client_may_not_use_the_admin_upload(client, tenant_a, request_a, baseline):
    login(client, tenant_a["client"])
    r = upload(client, f"/api/admin/service-requests/{request_a}/attachments")
    assert r.status_code == 403 and code(r) == "role_required"
    assert baseline()


def test_staff_of_a_cannot_attach_to_a_request_of_b(client, db, tenant_a, tenant_b):
    request_b = make_request(db, tenant_b)
    login(client, tenant_a["staff"])
    before = attachment_count(db, tenant_b)
    r = upload(client, f"/api/admin/service-requests/{request_b}/attachments")
    assert r.status_code == 404 and code(r) == "not_found"
    assert attachment_count(db, tenant_b) == before


def test_staff_of_a_attaching_to_b_leaves_no_row_or_file_anywhere(
    client, db, tenant_a, tenant_b, baseline
):
    request_b = make_request(db, tenant_b)
    login(client, tenant_a["staff"])
    assert upload(client, f"/api/admin/service-requests/{request_b}/attachments").status_code == 404
    assert baseline()


def test_unknown_request_is_404_and_nothing_is_stored(client, tenant_a, baseline):
    login(client, tenant_a["staff"])
    r = upload(client, f"/api/admin/service-requests/{uuid.uuid4()}/attachments")
    assert r.status_code == 404
    assert baseline()


def test_staff_attaches_a_receipt_to_an_expense(client, db, tenant_a):
    expense = make_expense(db, tenant_a)
    login(client, tenant_a["staff"])
    r = upload(
        client,
        f"/api/admin/expenses/{expense}/attachments",
        data=b"%PDF-1.7\n...",
        name="receipt.pdf",
        ctype="application/pdf",
    )
    assert r.status_code == 201, r.text
    assert r.json()["expense_id"] == str(expense)
    listed = client.get(f"/api/admin/expenses/{expense}/attachments").json()
    assert [a["id"] for a in listed["items"]] == [r.json()["id"]]


def test_staff_of_a_cannot_attach_to_or_list_an_expense_of_b(
    client, db, tenant_a, tenant_b, baseline
):
    expense_b = make_expense(db, tenant_b)
    login(client, tenant_a["admin"])
    assert upload(client, f"/api/admin/expenses/{expense_b}/attachments").status_code == 404
    assert client.get(f"/api/admin/expenses/{expense_b}/attachments").status_code == 404
    assert baseline()


def test_client_may_not_upload_to_an_expense(client, db, tenant_a):
    expense = make_expense(db, tenant_a)
    login(client, tenant_a["client"])
    r = upload(client, f"/api/admin/expenses/{expense}/attachments")
    assert r.status_code == 403 and code(r) == "role_required"


# ---------------------------------------------------------------- refusals


def test_a_type_outside_the_allow_list_is_415_before_anything_is_written(
    client, tenant_a, request_a, baseline
):
    login(client, tenant_a["staff"])
    r = upload(
        client,
        f"/api/admin/service-requests/{request_a}/attachments",
        data=EXE,
        name="setup.exe",
        ctype="application/x-msdownload",
    )
    assert r.status_code == 415 and code(r) == "unsupported_media_type"
    assert baseline()


def test_a_renamed_executable_claiming_png_is_refused_by_sniffing(
    client, tenant_a, request_a, baseline
):
    login(client, tenant_a["staff"])
    for data in (EXE, b"\x7fELF" + bytes(100), b"just some text, not a png"):
        r = upload(
            client,
            f"/api/admin/service-requests/{request_a}/attachments",
            data=data,
            name="cat.png",
            ctype="image/png",
        )
        assert r.status_code == 415 and code(r) == "unsupported_media_type"
    r = upload(
        client,
        f"/api/admin/service-requests/{request_a}/attachments",
        data=EXE,
        name="notes.txt",
        ctype="text/plain",
    )
    assert r.status_code == 415
    assert baseline()


def test_a_body_that_is_not_multipart_or_has_no_file_is_422(client, tenant_a, request_a, baseline):
    login(client, tenant_a["staff"])
    path = f"/api/admin/service-requests/{request_a}/attachments"
    r = client.post(path, json={"file": "x"})
    assert r.status_code == 422 and code(r) == "invalid_upload"
    r = client.post(path, data={"note": "no file"}, files={"other": ("a.png", PNG, "image/png")})
    assert r.status_code == 422 and code(r) == "invalid_upload"
    assert baseline()


@pytest.fixture
def small_client(settings, db):
    small = Settings(
        data_dir=settings.data_dir,
        database_name=settings.database_name,
        database_url=settings.database_url,
        secret_keys=settings.secret_keys,
        login_failures_per_account="1000/minute",
        login_attempts_per_address="10000/minute",
        upload_max_bytes=1024,
    )
    with TestClient(create_app(small, db)) as c:
        yield c


def test_a_file_over_the_limit_is_413_and_nothing_is_stored(
    small_client, tenant_a, request_a, baseline
):
    login(small_client, tenant_a["staff"])
    path = f"/api/admin/service-requests/{request_a}/attachments"
    for extra in (2000, 200_000):  # streamed past the limit; declared far over it
        r = upload(small_client, path, data=PNG + bytes(extra))
        assert r.status_code == 413 and code(r) == "payload_too_large"
    assert baseline()
    ok = upload(small_client, path, data=PNG + bytes(1024 - len(PNG)))
    assert ok.status_code == 201, ok.text


def test_a_chunked_body_without_length_is_refused(small_client, tenant_a, request_a, baseline):
    login(small_client, tenant_a["staff"])
    boundary = "tenantryboundary"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode() + PNG
        for _ in range(100):
            yield bytes(512)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = small_client.post(
        f"/api/admin/service-requests/{request_a}/attachments",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413 and code(r) == "payload_too_large"
    assert baseline()


def test_the_receiver_stops_reading_the_stream_at_the_limit(tmp_path):
    """The test client buffers request bodies, so the early stop is shown on the
    receiver itself: it abandons the stream once the limit is passed."""
    import asyncio

    from tenantry.attachments.storage import receive_file
    from tenantry.errors import PayloadTooLarge

    boundary = "b0undary"
    pulled = []

    async def stream():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode() + PNG
        for _ in range(10_000):  # ~40 MB if read to the end
            pulled.append(4096)
            yield bytes(4096)

    tenant = uuid.uuid4()
    with pytest.raises(PayloadTooLarge):
        asyncio.run(
            receive_file(
                content_type_header=f"multipart/form-data; boundary={boundary}",
                content_length=None,
                stream=stream(),
                upload_dir=tmp_path,
                tenant_id=tenant,
                max_bytes=10_000,
                allowed_content_types="image/png",
            )
        )
    assert sum(pulled) <= 16 * 1024
    assert list((tmp_path / str(tenant)).iterdir()) == []


def test_content_disposition_cannot_be_used_to_inject_headers():
    from tenantry.attachments.storage import content_disposition

    value = content_disposition('a"\r\nSet-Cookie: x=1;.png')
    assert "\r" not in value and "\n" not in value
    assert value.startswith('attachment; filename="a_Set-Cookie_ x_1_.png"')


# ---------------------------------------------------------------- metadata + download


@pytest.fixture
def uploaded(client, tenant_a, request_a):
    login(client, tenant_a["staff"])
    r = upload(
        client,
        f"/api/admin/service-requests/{request_a}/attachments",
        name="rapport d'\u00e9t\u00e9.png",
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_staff_reads_metadata_and_lists_a_requests_attachments(client, uploaded, request_a):
    r = client.get(f"/api/admin/attachments/{uploaded['id']}")
    assert r.status_code == 200 and r.json()["scan_status"] == "pending"
    listed = client.get(f"/api/admin/service-requests/{request_a}/attachments").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == uploaded["id"]


def test_client_may_not_read_admin_metadata_or_download(client, uploaded, tenant_a):
    login(client, tenant_a["client"])
    for path in (
        f"/api/admin/attachments/{uploaded['id']}",
        f"/api/admin/attachments/{uploaded['id']}/download",
    ):
        r = client.get(path)
        assert r.status_code == 403 and code(r) == "role_required"


def test_a_pending_file_is_not_served(client, uploaded):
    r = client.get(f"/api/admin/attachments/{uploaded['id']}/download")
    assert r.status_code == 409 and code(r) == "scan_pending"


def test_a_clean_file_is_served_with_a_sanitised_disposition(client, settings, uploaded):
    assert scan(client, settings, uploaded["id"], "clean").json()["scan_status"] == "clean"
    r = client.get(f"/api/admin/attachments/{uploaded['id']}/download")
    assert r.status_code == 200 and r.content == PNG
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="rapport d__t_.png"')
    assert "filename*=UTF-8''rapport%20d%27%C3%A9t%C3%A9.png" in disposition
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-type"] == "image/png"


def test_an_infected_file_is_quarantined_and_never_served(client, db, settings, tenant_a, uploaded):
    on_disk = set(files_on_disk(settings, tenant_a))
    r = scan(client, settings, uploaded["id"], "infected")
    assert r.status_code == 200 and r.json()["scan_status"] == "infected"
    assert len(on_disk - set(files_on_disk(settings, tenant_a))) == 1
    r = client.get(f"/api/admin/attachments/{uploaded['id']}/download")
    assert r.status_code == 410 and code(r) == "file_infected"
    again = scan(client, settings, uploaded["id"], "clean")
    assert again.status_code == 409 and code(again) == "scan_final"
    assert client.get(f"/api/admin/attachments/{uploaded['id']}").json()["scan_status"] == (
        "infected"
    )


def test_staff_of_b_cannot_see_or_download_an_attachment_of_a(client, settings, tenant_b, uploaded):
    scan(client, settings, uploaded["id"], "clean")
    login(client, tenant_b["owner"])
    assert client.get(f"/api/admin/attachments/{uploaded['id']}").status_code == 404
    r = client.get(f"/api/admin/attachments/{uploaded['id']}/download")
    assert r.status_code == 404 and code(r) == "not_found"


def test_staff_of_b_cannot_list_attachments_of_a_request_of_a(
    client, tenant_b, request_a, uploaded
):
    login(client, tenant_b["staff"])
    r = client.get(f"/api/admin/service-requests/{request_a}/attachments")
    assert r.status_code == 404


# ---------------------------------------------------------------- scanner callback


def test_scan_callback_needs_the_scanner_secret(client, db, settings, tenant_a, uploaded):
    for secret in ("", "wrong-secret"):
        r = scan(client, settings, uploaded["id"], "clean", secret=secret)
        assert r.status_code == 401 and code(r) == "scanner_secret_invalid"
    r = client.post(
        "/api/attachments/scan-callback", json={"attachment_id": uploaded["id"], "result": "clean"}
    )
    assert r.status_code == 401
    with tenant_context(TenantContext(tenant_id=tenant_a.id)), db.session() as s:
        status = s.scalar(
            select(Attachment.scan_status).where(Attachment.id == uuid.UUID(uploaded["id"]))
        )
    assert status == "pending"


def test_scan_callback_rejects_unknown_ids_and_results(client, settings, uploaded):
    assert scan(client, settings, uuid.uuid4(), "clean").status_code == 404
    r = scan(client, settings, uploaded["id"], "maybe")
    assert r.status_code == 422
    r = client.post(
        "/api/attachments/scan-callback",
        json={"attachment_id": uploaded["id"], "result": "clean", "tenant_id": str(uuid.uuid4())},
        headers={"X-Scanner-Secret": settings.av_secret},
    )
    assert r.status_code == 422  # no tenant is ever taken from the caller


def test_scan_callback_updates_only_the_attachments_own_tenant(
    client, db, settings, tenant_a, tenant_b, uploaded
):
    request_b = make_request(db, tenant_b)
    login(client, tenant_b["staff"])
    other = upload(client, f"/api/admin/service-requests/{request_b}/attachments").json()
    assert scan(client, settings, uploaded["id"], "clean").status_code == 200
    login(client, tenant_b["staff"])
    assert client.get(f"/api/admin/attachments/{other['id']}").json()["scan_status"] == "pending"


# ---------------------------------------------------------------- portal


def test_client_uploads_to_and_downloads_from_their_own_request(
    client, settings, tenant_a, request_a
):
    login(client, tenant_a["client"])
    r = upload(
        client,
        f"/api/portal/service-requests/{request_a}/attachments",
        data=b"name,qty\ntap,1\n",
        name="list.csv",
        ctype="text/csv",
    )
    assert r.status_code == 201, r.text
    attachment = r.json()
    assert attachment["uploaded_by_id"] == str(tenant_a["client"].user_id)
    listed = client.get(f"/api/portal/service-requests/{request_a}/attachments").json()
    assert [a["id"] for a in listed["items"]] == [attachment["id"]]
    path = f"/api/portal/attachments/{attachment['id']}/download"
    assert client.get(path).status_code == 409
    scan(client, settings, attachment["id"], "clean")
    r = client.get(path)
    assert r.status_code == 200 and r.content == b"name,qty\ntap,1\n"


def test_client_cannot_reach_another_clients_request_or_file(
    client, db, settings, tenant_a, uploaded, baseline
):
    other_request = make_request(db, tenant_a, client_role="staff")  # someone else's request
    scan(client, settings, uploaded["id"], "clean")
    from tenantry.tenants.lifecycle import add_member
    from tests.factories import make_user

    other_client = make_user(db)
    add_member(db, tenant_id=tenant_a.id, user_id=other_client.user_id, role="client")
    login(client, other_client)
    assert (
        upload(client, f"/api/portal/service-requests/{other_request}/attachments").status_code
        == 404
    )
    r = client.get(f"/api/portal/attachments/{uploaded['id']}/download")
    assert r.status_code == 404 and code(r) == "not_found"
    assert (
        client.get(f"/api/portal/service-requests/{other_request}/attachments").status_code == 404
    )
    assert baseline()


def test_client_of_b_cannot_reach_a_request_or_file_of_a(
    client, settings, tenant_b, request_a, uploaded, baseline
):
    scan(client, settings, uploaded["id"], "clean")
    login(client, tenant_b["client"])
    assert (
        upload(client, f"/api/portal/service-requests/{request_a}/attachments").status_code == 404
    )
    assert client.get(f"/api/portal/attachments/{uploaded['id']}/download").status_code == 404
    assert baseline()


def test_staff_may_not_use_the_portal(client, tenant_a, request_a, uploaded):
    r = upload(client, f"/api/portal/service-requests/{request_a}/attachments")
    assert r.status_code == 403 and code(r) == "role_required"
    assert client.get(f"/api/portal/attachments/{uploaded['id']}/download").status_code == 403


def test_client_cannot_download_an_expense_attachment(client, db, settings, tenant_a):
    expense = make_expense(db, tenant_a)
    login(client, tenant_a["staff"])
    att = upload(client, f"/api/admin/expenses/{expense}/attachments").json()
    scan(client, settings, att["id"], "clean")
    login(client, tenant_a["client"])
    assert client.get(f"/api/portal/attachments/{att['id']}/download").status_code == 404

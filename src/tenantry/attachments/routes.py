"""Attachments: uploads on service requests and expenses, scanned downloads, scanner callback."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated, Any

from fastapi import Depends, Header, Request, status
from fastapi.responses import StreamingResponse

from tenantry.attachments import service, storage
from tenantry.attachments.errors import ScannerSecretInvalid
from tenantry.attachments.models import Attachment
from tenantry.attachments.repository import attachments
from tenantry.attachments.schemas import AttachmentOut, ScanCallbackIn, ScanCallbackOut
from tenantry.auth.dependencies import DatabaseDep, SettingsDep, TenantSession
from tenantry.db.unit import current_unit
from tenantry.isolation.context import TenantContext
from tenantry.kit.actor import Actor, PortalClient
from tenantry.kit.body_limit import body_limit
from tenantry.kit.pagination import Page, Pagination
from tenantry.permissions.access import (
    AttachmentsRead,
    ExpenseFilesRead,
    ExpenseFilesWrite,
    RequestFilesRead,
    RequestFilesWrite,
)
from tenantry.permissions.catalog import reads_for
from tenantry.permissions.dependencies import require_permissions
from tenantry.routing import NOT_FOUND, Responses, system_router, tenant_router

# Files hang from a service request or an expense: every route needs the parent's read
# permission too (``RequestFiles*``/``ExpenseFiles*``), so ``attachments.read`` alone
# never shows an expense's receipt.

admin = tenant_router(prefix="/api/admin", tags=["attachments"])
portal = tenant_router(prefix="/api/portal", tags=["attachments"])
system = system_router(prefix="/api/attachments", tags=["attachments"])
routers = [admin, portal, system]

UPLOAD_ERRORS: Responses = {
    **NOT_FOUND,
    413: {"description": "The file exceeds the size limit (`payload_too_large`)"},
    415: {
        "description": "Type not allowed, or content does not match it (`unsupported_media_type`)"
    },
    422: {"description": "Not a multipart body with one part named `file` (`invalid_upload`)"},
}
DOWNLOAD_ERRORS: Responses = {
    **NOT_FOUND,
    409: {"description": "Not scanned yet (`scan_pending`)"},
    410: {"description": "Found infected and quarantined (`file_infected`)"},
}
MULTIPART_BODY: dict[str, Any] = {
    **body_limit("upload"),
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    },
}
# Every upload route: 201 with the stored file's metadata (its ``AttachmentOut``), the
# upload errors, a multipart body with one part named ``file`` (``@router.post(path,
# **UPLOAD)``).
UPLOAD: dict[str, Any] = {
    "status_code": status.HTTP_201_CREATED,
    "responses": UPLOAD_ERRORS,
    "openapi_extra": MULTIPART_BODY,
}


async def receive_upload(
    request: Request, actor: Actor, settings: SettingsDep
) -> AsyncIterator[storage.ReceivedFile]:
    """Stream the body to disk (size and type checked as it arrives); remove the bytes
    again if anything after it fails — the endpoint, or the request's commit."""
    # A body can take long to arrive: no pooled connection waits on it (the access
    # check's transaction ends here; the endpoint's work begins a new, pinned one).
    # A deferred access check runs first: a refused request writes nothing to disk.
    unit = current_unit()
    if unit.open or unit.pending:
        await unit.call(unit.release)
    received = await storage.receive_file(
        content_type_header=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        stream=request.stream(),
        upload_dir=settings.upload_dir,
        tenant_id=actor.tenant_id,
        max_bytes=settings.upload_max_bytes,
        allowed_content_types=settings.upload_content_types,
    )
    try:
        yield received
    except BaseException:
        storage.remove_quietly(received.path)
        raise


# Declared BEFORE TenantSession in each signature: entered first, it exits last and so
# sees a failed commit too.
Upload = Annotated[storage.ReceivedFile, Depends(receive_upload, scope="function")]


def _iter_file(stream: IO[bytes]) -> Iterator[bytes]:
    with stream:
        while chunk := stream.read(64 * 1024):
            yield chunk


def _download_response(download: service.Download) -> StreamingResponse:
    return StreamingResponse(
        _iter_file(download.stream),
        media_type=download.content_type,
        headers={
            "Content-Disposition": storage.content_disposition(download.filename),
            "Content-Length": str(download.size_bytes),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


# ----------------------------------------------------------------------------- admin


@admin.post("/service-requests/{service_request_id}/attachments", **UPLOAD)
def upload_to_request(
    ctx: RequestFilesWrite,
    actor: Actor,
    upload: Upload,
    session: TenantSession,
    service_request_id: uuid.UUID,
) -> AttachmentOut:
    """Attach a file to a service request. It is stored `pending` until the antivirus
    scanner reports on it; downloads wait for `clean`."""
    row = service.attach(
        session, received=upload, uploaded_by=actor.user_id, service_request_id=service_request_id
    )
    return AttachmentOut.model_validate(row)


@admin.get(
    "/service-requests/{service_request_id}/attachments",
    responses=NOT_FOUND,
)
def list_request_attachments(
    ctx: RequestFilesRead, session: TenantSession, page: Pagination, service_request_id: uuid.UUID
) -> Page[AttachmentOut]:
    """The files attached to a service request, oldest first."""
    found = service.list_for_request(
        session, service_request_id=service_request_id, owner=None, page=page
    )
    return found.map(AttachmentOut.model_validate)


@admin.post("/expenses/{expense_id}/attachments", **UPLOAD)
def upload_to_expense(
    ctx: ExpenseFilesWrite,
    actor: Actor,
    upload: Upload,
    session: TenantSession,
    expense_id: uuid.UUID,
) -> AttachmentOut:
    """Attach a receipt (or any allowed file) to an expense; stored `pending` a scan."""
    row = service.attach(session, received=upload, uploaded_by=actor.user_id, expense_id=expense_id)
    return AttachmentOut.model_validate(row)


@admin.get(
    "/expenses/{expense_id}/attachments",
    responses=NOT_FOUND,
)
def list_expense_attachments(
    ctx: ExpenseFilesRead, session: TenantSession, page: Pagination, expense_id: uuid.UUID
) -> Page[AttachmentOut]:
    """The files attached to an expense, oldest first."""
    found = service.list_for_expense(session, expense_id=expense_id, page=page)
    return found.map(AttachmentOut.model_validate)


@admin.get(
    "/attachments/{attachment_id}",
    responses=NOT_FOUND,
)
def get_attachment(
    ctx: AttachmentsRead, session: TenantSession, db: DatabaseDep, attachment_id: uuid.UUID
) -> AttachmentOut:
    """An attachment's metadata, scan status included. Needs the read permission of
    its parent too (`requests.read` or `expenses.read`)."""
    return AttachmentOut.model_validate(_readable(session, db, ctx, attachment_id))


def _readable(
    session: TenantSession, db: DatabaseDep, ctx: TenantContext, attachment_id: uuid.UUID
) -> Attachment:
    attachment = attachments.get_or_404(session, attachment_id)
    require_permissions(
        db,
        ctx,
        *reads_for(
            service_request_id=attachment.service_request_id, expense_id=attachment.expense_id
        ),
    )
    return attachment


@admin.get(
    "/attachments/{attachment_id}/download",
    response_class=StreamingResponse,
    responses=DOWNLOAD_ERRORS,
)
def download_attachment(
    ctx: AttachmentsRead,
    session: TenantSession,
    db: DatabaseDep,
    settings: SettingsDep,
    attachment_id: uuid.UUID,
) -> StreamingResponse:
    """The file's bytes, as an attachment under its original (sanitised) name. Only a
    file the scanner reported clean is served. Needs the read permission of its parent
    too (`requests.read` or `expenses.read`)."""
    attachment = _readable(session, db, ctx, attachment_id)
    return _download_response(service.open_download(attachment, upload_dir=settings.upload_dir))


# ---------------------------------------------------------------------------- portal


@portal.post("/service-requests/{service_request_id}/attachments", **UPLOAD)
def portal_upload_to_request(
    client: PortalClient, upload: Upload, session: TenantSession, service_request_id: uuid.UUID
) -> AttachmentOut:
    """A client attaches a file to one of their own service requests."""
    row = service.attach(
        session,
        received=upload,
        uploaded_by=client.user_id,
        service_request_id=service_request_id,
        owner=client.user_id,
    )
    return AttachmentOut.model_validate(row)


@portal.get(
    "/service-requests/{service_request_id}/attachments",
    responses=NOT_FOUND,
)
def portal_list_request_attachments(
    client: PortalClient, session: TenantSession, page: Pagination, service_request_id: uuid.UUID
) -> Page[AttachmentOut]:
    """The files on one of the client's own service requests."""
    found = service.list_for_request(
        session, service_request_id=service_request_id, owner=client.user_id, page=page
    )
    return found.map(AttachmentOut.model_validate)


@portal.get(
    "/attachments/{attachment_id}/download",
    response_class=StreamingResponse,
    responses=DOWNLOAD_ERRORS,
)
def portal_download_attachment(
    client: PortalClient, session: TenantSession, settings: SettingsDep, attachment_id: uuid.UUID
) -> StreamingResponse:
    """Download a clean file from one of the client's own service requests."""
    attachment = service.get_for_client(session, attachment_id=attachment_id, owner=client.user_id)
    return _download_response(service.open_download(attachment, upload_dir=settings.upload_dir))


# ---------------------------------------------------------------------------- system


def require_scanner(
    settings: SettingsDep,
    x_scanner_secret: Annotated[
        str | None, Header(description="The shared scanner secret.")
    ] = None,
) -> None:
    """The scanner proves itself with the shared secret (constant-time comparison)."""
    if x_scanner_secret is None or not hmac.compare_digest(
        x_scanner_secret.encode(), settings.av_secret.encode()
    ):
        raise ScannerSecretInvalid()


@system.post(
    "/scan-callback",
    dependencies=[Depends(require_scanner)],
    responses={
        401: {"description": "Missing or wrong `X-Scanner-Secret` (`scanner_secret_invalid`)"},
        404: {"description": "No such attachment"},
        409: {"description": "An infected file cannot be re-marked clean (`scan_final`)"},
    },
)
def scan_callback(body: ScanCallbackIn, db: DatabaseDep, settings: SettingsDep) -> ScanCallbackOut:
    """The antivirus scanner reports a verdict. The tenant comes from the attachment
    itself, never from the caller; an infected file's bytes are deleted at once."""
    return service.apply_scan_result(
        db, upload_dir=settings.upload_dir, attachment_id=body.attachment_id, result=body.result
    )

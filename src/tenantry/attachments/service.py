"""Attachment rules: who may attach to what, when bytes may be served, scan results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import structlog
from sqlalchemy.orm import Session

from tenantry.attachments import storage
from tenantry.attachments.errors import FileInfected, ScanFinal, ScanPending
from tenantry.attachments.models import Attachment
from tenantry.attachments.repository import attachments, oldest_first, tenant_of
from tenantry.attachments.schemas import ScanCallbackOut
from tenantry.db.engine import Database
from tenantry.expenses.repository import expenses
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.kit.pagination import Page, PageParams
from tenantry.service_requests.repository import requests

_log = structlog.get_logger("tenantry.attachments")

ScanResult = Literal["clean", "infected"]


def attach(
    session: Session,
    *,
    received: storage.ReceivedFile,
    uploaded_by: uuid.UUID,
    service_request_id: uuid.UUID | None = None,
    expense_id: uuid.UUID | None = None,
    owner: uuid.UUID | None = None,
) -> Attachment:
    """Record an uploaded file against its parent (a request of this tenant — of client
    ``owner``'s when given — or an expense); the file starts ``pending`` a scan."""
    if service_request_id is not None:
        requests.get_or_404(session, service_request_id, owner=owner)
    elif expense_id is not None:
        expenses.get_or_404(session, expense_id)
    attachment = Attachment(
        service_request_id=service_request_id,
        expense_id=expense_id,
        uploaded_by_id=uploaded_by,
        filename=received.filename,
        content_type=received.content_type,
        size_bytes=received.size_bytes,
        storage_key=received.storage_key,
        scan_status="pending",
    )
    return attachments.add(session, attachment)


def get_for_client(session: Session, *, attachment_id: uuid.UUID, owner: uuid.UUID) -> Attachment:
    """A client sees attachments on their own service requests only; anything else is 404."""
    attachment = attachments.get_or_404(session, attachment_id)
    if attachment.service_request_id is None or (
        requests.get(session, attachment.service_request_id, owner=owner) is None
    ):
        raise attachments.not_found()
    return attachment


def list_for_request(
    session: Session, *, service_request_id: uuid.UUID, owner: uuid.UUID | None, page: PageParams
) -> Page[Attachment]:
    requests.get_or_404(session, service_request_id, owner=owner)
    return attachments.page(session, oldest_first(service_request_id=service_request_id), page)


def list_for_expense(
    session: Session, *, expense_id: uuid.UUID, page: PageParams
) -> Page[Attachment]:
    expenses.get_or_404(session, expense_id)
    return attachments.page(session, oldest_first(expense_id=expense_id), page)


@dataclass(frozen=True)
class Download:
    stream: IO[bytes]
    filename: str
    content_type: str
    size_bytes: int


# A clean file whose bytes cannot be read (a bad key, gone from disk): 404 `not_found`.
UNAVAILABLE = "The file is not available."


def open_download(attachment: Attachment, *, upload_dir: Path) -> Download:
    """Open the bytes of a CLEAN attachment. Pending → 409, infected → 410, never served."""
    if attachment.scan_status == "infected":
        raise FileInfected()
    if attachment.scan_status != "clean":
        raise ScanPending()
    path = storage.path_for(upload_dir, attachment.tenant_id, attachment.storage_key)
    if path is None:
        _log.warning("attachment_key_invalid", attachment_id=str(attachment.id))
        raise attachments.not_found(UNAVAILABLE)
    try:
        # Opened here, so a missing file is a clean 404 rather than an error mid-response.
        stream = path.open("rb")
    except FileNotFoundError as exc:
        raise attachments.not_found(UNAVAILABLE) from exc
    return Download(stream, attachment.filename, attachment.content_type, attachment.size_bytes)


def apply_scan_result(
    db: Database, *, upload_dir: Path, attachment_id: uuid.UUID, result: ScanResult
) -> ScanCallbackOut:
    """The antivirus scanner's verdict (a system route: no tenant comes with it).

    The tenant is resolved FROM THE ATTACHMENT with a narrow privileged lookup (its
    tenant id only); the update then runs inside that tenant's own context, under the
    guard and RLS like any request. An infected file's bytes are deleted at once.
    """
    with db.system_session(reason="antivirus callback: resolve the attachment's tenant") as s:
        tenant_id = tenant_of(s, attachment_id=attachment_id)
    if tenant_id is None:
        raise attachments.not_found()
    with (
        tenant_context(TenantContext(tenant_id=tenant_id, scope="tenant")),
        db.session() as session,
    ):
        attachment = attachments.for_update(session, attachment_id)  # 404 if deleted meanwhile
        if attachment.scan_status == "infected" and result != "infected":
            raise ScanFinal()
        attachment.scan_status = result
        attachments.flush(session)
        key = attachment.storage_key
    _log.info(
        "attachment_scanned",
        attachment_id=str(attachment_id),
        tenant_id=str(tenant_id),
        result=result,
    )
    if result == "infected":
        # Quarantine: the row keeps the verdict, the bytes go.
        storage.remove_quietly(storage.path_for(upload_dir, tenant_id, key))
    return ScanCallbackOut(attachment_id=attachment_id, scan_status=result)

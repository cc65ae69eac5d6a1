"""Attachment rules: who may attach to what, when bytes may be served, scan results."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tenantry.attachments import repository, storage
from tenantry.attachments.errors import FileInfected, ScanFinal, ScanPending
from tenantry.attachments.models import Attachment
from tenantry.attachments.schemas import ScanCallbackOut
from tenantry.db.engine import Database
from tenantry.errors import NotFound
from tenantry.isolation.context import TenantContext, require_context, tenant_context
from tenantry.kit.pagination import PageParams

_log = structlog.get_logger("tenantry.attachments")

ScanResult = Literal["clean", "infected"]


def _require_request(
    session: Session, *, service_request_id: uuid.UUID, client_id: uuid.UUID | None
) -> None:
    """The request exists in this tenant (and, for a client, is theirs) — else 404."""
    owner = repository.request_client(session, service_request_id=service_request_id)
    if owner is None or (client_id is not None and owner != client_id):
        raise NotFound("No such service request.")


def attach(
    *,
    session: Session,
    received: storage.ReceivedFile,
    service_request_id: uuid.UUID | None = None,
    expense_id: uuid.UUID | None = None,
    client_only: bool = False,
) -> Attachment:
    """Record an uploaded file against its parent; the file starts ``pending`` a scan."""
    ctx = require_context()
    assert ctx.user_id is not None
    if service_request_id is not None:
        _require_request(
            session,
            service_request_id=service_request_id,
            client_id=ctx.user_id if client_only else None,
        )
    elif expense_id is not None and not repository.expense_exists(session, expense_id=expense_id):
        raise NotFound("No such expense.")
    try:
        return repository.add(
            session,
            Attachment(
                service_request_id=service_request_id,
                expense_id=expense_id,
                uploaded_by_id=ctx.user_id,
                filename=received.filename,
                content_type=received.content_type,
                size_bytes=received.size_bytes,
                storage_key=received.storage_key,
                scan_status="pending",
            ),
        )
    except IntegrityError as exc:
        # The parent vanished between the check and the insert.
        raise NotFound() from exc


def get(*, session: Session, attachment_id: uuid.UUID) -> Attachment:
    attachment = repository.get(session, attachment_id=attachment_id)
    if attachment is None:
        raise NotFound("No such attachment.")
    return attachment


def get_for_client(
    *, session: Session, attachment_id: uuid.UUID, client_id: uuid.UUID
) -> Attachment:
    """A client sees attachments on their own service requests only; anything else is 404."""
    attachment = repository.get(session, attachment_id=attachment_id)
    if attachment is None or attachment.service_request_id is None:
        raise NotFound("No such attachment.")
    owner = repository.request_client(session, service_request_id=attachment.service_request_id)
    if owner != client_id:
        raise NotFound("No such attachment.")
    return attachment


def list_for_request(
    *,
    session: Session,
    service_request_id: uuid.UUID,
    client_id: uuid.UUID | None,
    page: PageParams,
) -> tuple[list[Attachment], int]:
    _require_request(session, service_request_id=service_request_id, client_id=client_id)
    return repository.page(
        session, service_request_id=service_request_id, limit=page.limit, offset=page.offset
    )


def list_for_expense(
    *, session: Session, expense_id: uuid.UUID, page: PageParams
) -> tuple[list[Attachment], int]:
    if not repository.expense_exists(session, expense_id=expense_id):
        raise NotFound("No such expense.")
    return repository.page(session, expense_id=expense_id, limit=page.limit, offset=page.offset)


@dataclass(frozen=True)
class Download:
    stream: IO[bytes]
    filename: str
    content_type: str
    size_bytes: int


def open_download(*, attachment: Attachment, upload_dir: Path) -> Download:
    """Open the bytes of a CLEAN attachment. Pending → 409, infected → 410, never served."""
    if attachment.scan_status == "infected":
        raise FileInfected()
    if attachment.scan_status != "clean":
        raise ScanPending()
    path = storage.path_for(upload_dir, attachment.tenant_id, attachment.storage_key)
    if path is None:
        _log.warning("attachment_key_invalid", attachment_id=str(attachment.id))
        raise NotFound("The file is not available.")
    try:
        # Opened here, so a missing file is a clean 404 rather than an error mid-response.
        stream = path.open("rb")
    except FileNotFoundError as exc:
        raise NotFound("The file is not available.") from exc
    return Download(stream, attachment.filename, attachment.content_type, attachment.size_bytes)


def apply_scan_result(
    *, db: Database, upload_dir: Path, attachment_id: uuid.UUID, result: ScanResult
) -> ScanCallbackOut:
    """The antivirus scanner's verdict (a system route: no tenant comes with it).

    The tenant is resolved FROM THE ATTACHMENT with a narrow privileged lookup (its
    tenant id only); the update then runs inside that tenant's own context, under the
    guard and RLS like any request. An infected file's bytes are deleted at once.
    """
    with db.system_session(reason="antivirus callback: resolve the attachment's tenant") as s:
        tenant_id = repository.tenant_of(s, attachment_id=attachment_id)
    if tenant_id is None:
        raise NotFound("No such attachment.")
    with (
        tenant_context(TenantContext(tenant_id=tenant_id, scope="tenant")),
        db.session() as session,
    ):
        attachment = repository.get(session, attachment_id=attachment_id, for_update=True)
        if attachment is None:  # deleted in between
            raise NotFound("No such attachment.")
        if attachment.scan_status == "infected" and result != "infected":
            raise ScanFinal()
        attachment.scan_status = result
        session.flush()
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

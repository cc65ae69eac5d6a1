"""Demo attachments: a small clean text note on the first open service request, and a
pending one (waiting for the scanner). Idempotent: a tenant with attachments is left
alone. The bytes go under ``upload_dir/<tenant>/<random hex>`` like real uploads."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from tenantry.attachments.models import Attachment
from tenantry.attachments.storage import tenant_dir
from tenantry.kit.demo import DemoTenant, fills
from tenantry.service_requests.repository import oldest_open
from tenantry.settings import get_settings

FILES = (
    (
        "access-notes.txt",
        b"Side gate code 4512. Dog is friendly. Stopcock under the sink.\n",
        "clean",
    ),
    ("photo-list.txt", b"1. kitchen tap\n2. boiler pressure gauge\n", "pending"),
)


@fills(Attachment)
def fill(s: Session, demo: DemoTenant) -> None:
    folder = tenant_dir(get_settings().upload_dir, demo.ref.id)
    request = s.execute(oldest_open(1)).first()
    if request is None:
        return
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for filename, content, scan_status in FILES:
        name = secrets.token_hex(16)
        (folder / name).write_bytes(content)
        s.add(
            Attachment(
                service_request_id=request[0],
                uploaded_by_id=request[1],
                filename=filename,
                content_type="text/plain",
                size_bytes=len(content),
                storage_key=f"{demo.ref.id}/{name}",
                scan_status=scan_status,
            )
        )

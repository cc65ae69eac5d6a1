"""Receiving an upload from the request stream, and where its bytes live on disk.

The body is parsed *while it arrives* (python-multipart's push parser), so a file
over ``upload_max_bytes`` is refused after at most that many bytes were read, a
refused content type before any byte is written, and nothing is left on disk when
anything fails. FastAPI's ``UploadFile`` would have spooled the whole body first.

Bytes are stored under ``<upload_dir>/<tenant id>/<random hex>``: the client's file
name never reaches the file system (path traversal, odd characters, collisions); it
is kept in the row and sanitised again when it goes out in Content-Disposition.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

from python_multipart.multipart import MultipartParser, parse_options_header

from tenantry.attachments.errors import InvalidUpload
from tenantry.errors import PayloadTooLarge, UnsupportedMediaType

SNIFF_BYTES = 512
# Room for the multipart envelope (boundaries, part headers, small fields).
ENVELOPE_BYTES = 16 * 1024
FILE_FIELD = "file"

# Leading bytes of executables and scripts refused whatever type they claim.
_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O fat / Java class
    b"#!",
    b"PK\x03\x04",  # zip (jar, apk, office macros): not on the allow-list as such
)

_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_TEXT_TYPES = frozenset({"text/plain", "text/csv"})


def allowed_types(setting: str) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in setting.split(",") if t.strip())


def content_matches(content_type: str, head: bytes) -> bool:
    """Do the first bytes look like the declared type? (A renamed executable does not.)"""
    if head.startswith(_EXECUTABLE_MAGIC):
        return False
    if content_type in _SIGNATURES:
        return head.startswith(_SIGNATURES[content_type])
    if content_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if content_type in _TEXT_TYPES:
        if b"\x00" in head:
            return False
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Only a multi-byte character cut by the sniff window is acceptable.
            return len(head) >= SNIFF_BYTES and exc.start >= len(head) - 3
        return True
    # A type an operator allowed that we have no signature for: executables are
    # already refused above.
    return True


def clean_filename(raw: str | None) -> str:
    """The name kept in the row: last path segment, no control characters, ≤ 255."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C"
    )
    name = name.strip().strip(".") or "file"
    return name[:255]


_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the RFC 5987 UTF-8 name."""
    name = clean_filename(filename)
    fallback = _ASCII_UNSAFE.sub("_", name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def tenant_dir(upload_dir: Path, tenant_id: uuid.UUID) -> Path:
    return upload_dir / str(tenant_id)


def path_for(upload_dir: Path, tenant_id: uuid.UUID, storage_key: str) -> Path | None:
    """The file of ``storage_key`` — only if the key is this tenant's and stays inside."""
    prefix, _, name = storage_key.partition("/")
    if prefix != str(tenant_id) or not re.fullmatch(r"[0-9a-f]{32}", name):
        return None
    return tenant_dir(upload_dir, tenant_id) / name


def remove_quietly(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@dataclass
class ReceivedFile:
    """A file written to its final place; the row is created by the service."""

    path: Path
    storage_key: str
    filename: str
    content_type: str
    size_bytes: int
    claimed: bool = False  # set once the row exists; otherwise the bytes are removed


@dataclass
class _State:
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[str, bytes] = field(default_factory=dict)
    in_file: bool = False
    seen_file: bool = False
    filename: str | None = None
    content_type: str = ""
    size: int = 0
    head: bytearray = field(default_factory=bytearray)
    sniffed: bool = False
    out: IO[bytes] | None = None


class _Receiver:
    def __init__(self, *, dest: Path, max_bytes: int, allowed: frozenset[str]) -> None:
        self.dest = dest
        self.max_bytes = max_bytes
        self.allowed = allowed
        self.s = _State()

    # python-multipart callbacks -------------------------------------------------
    def on_part_begin(self) -> None:
        self.s.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.s.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.s.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.s.headers[bytes(self.s.header_field).decode("latin-1").lower()] = bytes(
            self.s.header_value
        )
        self.s.header_field.clear()
        self.s.header_value.clear()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.s.headers.get("content-disposition"))
        if params.get(b"name") != FILE_FIELD.encode() or b"filename" not in params:
            return  # another form field: ignored (its size still counts)
        if self.s.seen_file:
            raise InvalidUpload("Send exactly one file per request.")
        content_type, _ = parse_options_header(self.s.headers.get("content-type"))
        declared = content_type.decode("latin-1").lower()
        if declared not in self.allowed:
            raise UnsupportedMediaType(f"Files of type {declared or 'unknown'!r} are not accepted.")
        self.s.seen_file = self.s.in_file = True
        self.s.content_type = declared
        self.s.filename = params[b"filename"].decode("utf-8", errors="replace")
        self.dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.s.out = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.s.in_file or self.s.out is None:
            return
        chunk = data[start:end]
        self.s.size += len(chunk)
        if self.s.size > self.max_bytes:
            raise PayloadTooLarge(f"Files may be at most {self.max_bytes} bytes.")
        if not self.s.sniffed:
            self.s.head += chunk[: SNIFF_BYTES - len(self.s.head)]
            if len(self.s.head) >= SNIFF_BYTES:
                self._sniff()
        self.s.out.write(chunk)

    def on_part_end(self) -> None:
        if self.s.in_file:
            if not self.s.sniffed:
                self._sniff()
            self.s.in_file = False
            self._close()

    # ----------------------------------------------------------------------------
    def _sniff(self) -> None:
        self.s.sniffed = True
        if not content_matches(self.s.content_type, bytes(self.s.head)):
            raise UnsupportedMediaType("The file's content does not match its declared type.")

    def _close(self) -> None:
        if self.s.out is not None:
            self.s.out.close()
            self.s.out = None

    def abort(self) -> None:
        self._close()
        remove_quietly(self.dest)


async def receive_file(
    *,
    content_type_header: str | None,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    upload_dir: Path,
    tenant_id: uuid.UUID,
    max_bytes: int,
    allowed_content_types: str,
) -> ReceivedFile:
    """Parse a multipart body from ``stream`` and store its one file part."""
    mime, params = parse_options_header(content_type_header)
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise InvalidUpload()
    body_limit = max_bytes + ENVELOPE_BYTES
    if content_length is not None and content_length.isdigit() and int(content_length) > body_limit:
        raise PayloadTooLarge(f"Files may be at most {max_bytes} bytes.")  # not read at all
    name = secrets.token_hex(16)
    dest = tenant_dir(upload_dir, tenant_id) / name
    receiver = _Receiver(
        dest=dest, max_bytes=max_bytes, allowed=allowed_types(allowed_content_types)
    )
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": receiver.on_part_begin,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
        },
    )
    read = 0
    try:
        async for chunk in stream:
            read += len(chunk)
            if read > body_limit:
                raise PayloadTooLarge(f"Files may be at most {max_bytes} bytes.")
            parser.write(chunk)
        parser.finalize()
        if not receiver.s.seen_file or receiver.s.in_file:
            raise InvalidUpload()
    except BaseException as exc:
        receiver.abort()
        if isinstance(exc, Exception) and not isinstance(
            exc, PayloadTooLarge | UnsupportedMediaType | InvalidUpload
        ):
            raise InvalidUpload("The multipart body could not be read.") from exc
        raise
    return ReceivedFile(
        path=dest,
        storage_key=f"{tenant_id}/{name}",
        filename=clean_filename(receiver.s.filename),
        content_type=receiver.s.content_type,
        size_bytes=receiver.s.size,
    )

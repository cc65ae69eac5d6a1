"""The export archive: a zip of NDJSON per table, the tenant's files and a manifest.

Layout::

    manifest.json            written last: counts and SHA-256 of every other member
    users.ndjson             the accounts of the tenant's members (to map on restore)
    tables/<table>.ndjson    one line per row (``rowsql``), primary-key order
    files/<name>             the tenant's stored files, byte for byte

Zip rather than tar: members are written as streams of unknown length (no temp
files, bounded memory), and a truncated archive loses its central directory, so it
cannot be mistaken for a smaller complete one. The manifest's checksums are what
restore trusts; the zip CRCs only catch damage earlier.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from tenantry.errors import InvalidInput

FORMAT = "tenantry-tenant-export"
VERSION = 1
MANIFEST = "manifest.json"
USERS = "users.ndjson"
CHUNK = 1024 * 1024


class ArchiveRefused(InvalidInput):
    code = "archive_refused"
    message = "The archive cannot be restored."


@dataclass
class TableEntry:
    name: str
    rows: int
    sha256: str
    columns: list[str]
    key: list[str]

    @property
    def member(self) -> str:
        return f"tables/{self.name}.ndjson"


@dataclass
class FileEntry:
    path: str  # relative to the tenant's upload folder
    size: int
    sha256: str

    @property
    def member(self) -> str:
        return f"files/{self.path}"


@dataclass
class Manifest:
    tenant: dict[str, Any]
    schema_revision: str
    created_at: str
    tables: list[TableEntry] = field(default_factory=list)
    users: dict[str, Any] = field(default_factory=dict)  # rows, sha256
    files: list[FileEntry] = field(default_factory=list)
    format: str = FORMAT
    version: int = VERSION

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ArchiveRefused("Not a Tenantry tenant export (manifest format differs).")
            if data.get("version") != VERSION:
                raise ArchiveRefused(f"Archive version {data.get('version')} is not {VERSION}.")
            return cls(
                tenant=dict(data["tenant"]),
                schema_revision=str(data["schema_revision"]),
                created_at=str(data["created_at"]),
                tables=[TableEntry(**t) for t in data["tables"]],
                users=dict(data["users"]),
                files=[FileEntry(**f) for f in data["files"]],
            )
        except ArchiveRefused:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveRefused(f"The manifest is unreadable: {exc}") from exc


class HashingWriter:
    """Counts lines and hashes bytes on their way into a zip member."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.lines = 0
        self.size = 0

    def write_line(self, line: str) -> None:
        data = line.encode() + b"\n"
        self.out.write(data)
        self.digest.update(data)
        self.lines += 1
        self.size += len(data)

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.size += len(data)


def open_for_reading(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise ArchiveRefused(f"No such file: {path}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveRefused(
            f"{path} is not a complete export archive (truncated or corrupted: {exc})."
        ) from exc


def read_manifest(archive: zipfile.ZipFile) -> Manifest:
    try:
        raw = archive.read(MANIFEST)
    except KeyError as exc:
        raise ArchiveRefused("The archive has no manifest.json.") from exc
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArchiveRefused(f"The manifest is damaged: {exc}") from exc
    return Manifest.from_json(raw)


def stream_member(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member's bytes in chunks; damage (CRC, truncation) becomes ArchiveRefused."""
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
    except KeyError as exc:
        raise ArchiveRefused(f"The archive lacks {member} (listed in the manifest).") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArchiveRefused(f"{member} is damaged: {exc}") from exc


def stream_lines(archive: zipfile.ZipFile, member: str) -> Iterator[bytes]:
    """The member's lines (without the newline), read in chunks."""
    rest = b""
    for chunk in stream_member(archive, member):
        rest += chunk
        *lines, rest = rest.split(b"\n")
        yield from lines
    if rest:
        raise ArchiveRefused(f"{member} ends in the middle of a line.")


def verify_archive(archive: zipfile.ZipFile, manifest: Manifest) -> None:
    """Check every member against the manifest before anything is loaded."""
    expected = {t.member: (t.sha256, t.rows) for t in manifest.tables}
    expected[USERS] = (str(manifest.users.get("sha256")), int(manifest.users.get("rows", 0)))
    for member, (sha, rows) in expected.items():
        digest, lines = hashlib.sha256(), 0
        for chunk in stream_member(archive, member):
            digest.update(chunk)
            lines += chunk.count(b"\n")
        if digest.hexdigest() != sha or lines != rows:
            raise ArchiveRefused(
                f"{member} does not match the manifest ({lines} rows, sha256 "
                f"{digest.hexdigest()[:12]}…; expected {rows} rows, {sha[:12]}…)."
            )
    for entry in manifest.files:
        if not _safe_relative(entry.path):
            raise ArchiveRefused(f"Unsafe file name in the manifest: {entry.path!r}")
        digest, size = hashlib.sha256(), 0
        for chunk in stream_member(archive, entry.member):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != entry.sha256 or size != entry.size:
            raise ArchiveRefused(f"{entry.member} does not match the manifest.")
    listed = set(expected) | {f.member for f in manifest.files} | {MANIFEST}
    extra = sorted(set(archive.namelist()) - listed)
    if extra:
        raise ArchiveRefused(f"The archive holds members the manifest does not list: {extra[:5]}")


def _safe_relative(path: str) -> bool:
    parts = Path(path).parts
    return bool(parts) and not Path(path).is_absolute() and ".." not in parts and "\\" not in path


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size

"""Files served by name from a fixed allow-list (the UI's own, the security view's, the
docs' vendor bundles): a name not on the list is a 404, so nothing else is reachable,
and every file goes out with its media type and ``nosniff``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi.responses import FileResponse

from tenantry.errors import NotFound


def listed_file(
    directory: Path, media_types: Mapping[str, str], name: str, *, cache_control: str = "no-cache"
) -> FileResponse:
    """``directory / name`` if ``name`` is a key of ``media_types`` (name → media type)."""
    media_type = media_types.get(name)
    if media_type is None:
        raise NotFound()
    return FileResponse(
        directory / name,
        media_type=media_type,
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )

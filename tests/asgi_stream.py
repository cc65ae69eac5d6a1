"""Call the ASGI app directly with a body that streams in chunks, counting what it pulls.

The TestClient joins a streamed request body into one message before the app sees it,
so it cannot show *when* the app stops reading. Here the app pulls chunk by chunk from
a generator that counts: a limit enforced while streaming pulls about the limit and no
more; a middleware that buffers pulls everything.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

MiB = 1024 * 1024


@dataclass
class Streamed:
    status: int
    headers: dict[str, str]
    body: bytes
    pulled: int  # body bytes the app received
    messages: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


def stream_request(
    app: Any,
    path: str,
    *,
    total: int,
    chunk: int = MiB,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    declare_length: bool = False,
    host: str = "testserver",
) -> Streamed:
    """Send ``total`` bytes in ``chunk``-sized messages (no Content-Length unless
    ``declare_length``); return the answer and how many bytes the app pulled."""
    raw_headers = [(b"host", host.encode())]
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    if declare_length:
        raw_headers.append((b"content-length", str(total).encode()))
    else:
        raw_headers.append((b"transfer-encoding", b"chunked"))
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    piece = b"{" * chunk
    sent = 0
    out: list[dict[str, Any]] = []

    async def run() -> None:
        answered = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent >= total:
                await answered.wait()
                return {"type": "http.disconnect"}
            body = piece[: min(chunk, total - sent)]
            sent += len(body)
            return {"type": "http.request", "body": body, "more_body": sent < total}

        async def send(message: dict[str, Any]) -> None:
            out.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set()

        await app(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in out if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    return Streamed(
        status=start["status"],
        headers={k.decode(): v.decode() for k, v in start.get("headers", [])},
        body=body,
        pulled=sent,
        messages=out,
    )


def cookie_header(client: Any) -> str:
    """The Cookie header of a signed-in TestClient."""
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())

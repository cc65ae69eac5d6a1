"""Scenario: an oversized body on every route is refused with 413 before it is read.

Issue 8, finding 3: bodies were read whole before any check (the idempotency middleware
before authentication). The limits are published (``info.x-tenantry-body-limits``, each
operation's ``x-tenantry-body-limit``), so every route — a new one too — is tried:

* with a ``Content-Length`` one byte over its limit (anonymous, with an
  ``Idempotency-Key``): 413 ``payload_too_large``, whatever the method;
* for operations that take a body, the same size sent chunked (no length announced),
  signed in as A's owner with an ``Idempotency-Key``: past authentication every such
  route reads its body (FastAPI parses JSON bodies before the dependencies, the
  idempotency guard reads streamed ones), so the limit must be counted while the body
  streams in — still 413. (Anonymous, a route that authenticates first answers 401
  without reading anything, which proves nothing either way.)

Over HTTP a server may close the connection before the client finished sending; that
is a refusal too (counted, and said in the notes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from tenantry.probe import exemptions
from tenantry.probe.oracle import outcome
from tenantry.probe.report import NOT_REFUSED
from tenantry.probe.spec import Operation, fill_path

if TYPE_CHECKING:
    from tenantry.probe.state import RunState

NAME = "oversized-body"
CHUNK = 256 * 1024


def _chunks(total: int) -> Iterator[bytes]:
    piece = b"{" * CHUNK
    sent = 0
    while sent < total:
        part = piece[: min(CHUNK, total - sent)]
        sent += len(part)
        yield part


def oversized_bodies(run: RunState) -> None:
    limits = run.spec.body_limits
    if not limits:
        run.report.notes.append(f"{NAME}: skipped, the document publishes no body limits")
        return
    closed = 0
    for op in run.spec.operations:
        if exemptions.skip_reason(op.key) is not None and op.key != "POST /api/auth/login":
            continue
        if run.cfg.select is not None and not run.cfg.select(op.key):
            continue
        limit = limits.get(op.body_limit, limits.get("json", 0))
        variants: list[tuple[str, bytes | Iterator[bytes]]] = [("length", b"{" * (limit + 1))]
        if op.body_kind is not None:
            variants.append(("chunked", _chunks(limit + CHUNK)))
        for label, content in variants:
            closed += _try(run, op, limit, label, content, signed_in=label == "chunked")
    if closed:
        run.report.notes.append(
            f"{NAME}: {closed} request(s) refused by the server closing the connection "
            "before the body was sent (counted as refused)"
        )


def _try(
    run: RunState,
    op: Operation,
    limit: int,
    label: str,
    content: bytes | Iterator[bytes],
    *,
    signed_in: bool,
) -> int:
    path = fill_path(op.path, {p.name: str(uuid.uuid4()) for p in op.path_params})
    headers = {
        "host": run.t.tenant_host(run.cfg.a.slug),
        "content-type": "application/json",
        "idempotency-key": f"oversized-{uuid.uuid4().hex}",
    }
    owner = run.a.get("owner") if signed_in else None
    actor = owner.label if owner is not None else "anonymous"
    run.report.scenario_probes[NAME] += 1
    try:
        sent = run.t.request(
            op.method,
            path,
            headers=headers,
            content=content,
            cookies=owner.cookies if owner is not None else None,
        )
    except httpx.TransportError:
        return 1
    if sent.status != 413 or sent.code != "payload_too_large":
        run.finding(
            NOT_REFUSED,
            op.key,
            f"{NAME} ({label}, {limit + 1}+ bytes, limit {op.body_limit})",
            actor,
            f"expected 413 payload_too_large, got {outcome(sent)}",
            sent,
        )
    return 0

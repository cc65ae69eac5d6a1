"""Security events: read once, where they are logged, and handed to every consumer.

The security log is the single source. Whoever refuses something writes one
structlog line — ``security_event`` with a ``code`` (the route dependency's
``_refuse``, the payments webhook, the rate limiters, the job runner) or
``guard_violation`` (the ORM guard, in enforce or log mode). ``security_events``,
a structlog processor installed by ``configure_logging``, turns each such line into
a ``SecurityEvent`` and hands it to the registered sinks: the Prometheus counter
``tenantry_security_events_total`` and the operator view's bounded events table.
So a new refusal anywhere is counted as soon as it is logged, and no emitter holds a
counter of its own.

Which tenant an event belongs to: the tenant the caller acts for, as far as it is
known — an explicit ``tenant``/``session_tenant`` field (the signed session's tenant),
else the tenant context of the code that logged it (guard, jobs), else the host's
tenant. The tenant the attempt was aimed at (host, signature, object) is kept as
``target_tenant_id`` for the events table.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenantry.isolation.context import current_context

SECURITY_LOG_EVENTS = frozenset({"security_event", "guard_violation"})

# Fields that name the acting tenant, most trusted first, and the targeted one.
_ACTOR_FIELDS = ("tenant", "session_tenant", "context_tenant")
_TARGET_FIELDS = ("host_tenant", "sig_tenant", "object_tenant", "row_tenant", "claimed_tenant")


@dataclass(frozen=True)
class SecurityEvent:
    code: str
    tenant_id: uuid.UUID | None = None
    target_tenant_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    client: str | None = None
    request_id: str | None = None
    path: str | None = None
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


Sink = Callable[[SecurityEvent], None]
_sinks: dict[str, Sink] = {}
_sinks_lock = threading.Lock()


def add_sink(name: str, sink: Sink) -> None:
    """Register (or replace, by name) a consumer of security events."""
    with _sinks_lock:
        _sinks[name] = sink


def remove_sink(name: str) -> None:
    with _sinks_lock:
        _sinks.pop(name, None)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _first_uuid(fields: Mapping[str, Any], names: tuple[str, ...]) -> uuid.UUID | None:
    for name in names:
        found = _uuid(fields.get(name))
        if found is not None:
            return found
    return None


def event_code(fields: Mapping[str, Any]) -> str:
    """The counter's ``code``: the refusal's code; guard violations by mode, since a
    ``not_found`` from the guard says nothing about which wall spoke."""
    if fields.get("event") == "guard_violation":
        return "guard_refused" if fields.get("mode", "enforce") == "enforce" else "guard_logged"
    return str(fields.get("code") or fields.get("kind") or "unknown")


def event_from_log(fields: Mapping[str, Any]) -> SecurityEvent:
    ctx = current_context()
    tenant = _first_uuid(fields, _ACTOR_FIELDS)
    if tenant is None and ctx is not None and ctx.scope != "system":
        tenant = ctx.tenant_id
    target = _first_uuid(fields, _TARGET_FIELDS)
    if tenant is None:
        tenant = _uuid(fields.get("tenant_id"))  # bound per request by the route dependency
    user = _uuid(fields.get("user")) or _uuid(fields.get("user_id"))
    if user is None and ctx is not None:
        user = ctx.user_id
    client = fields.get("client")
    path = fields.get("path")
    request_id = fields.get("request_id") or (ctx.request_id if ctx else None)
    return SecurityEvent(
        code=event_code(fields)[:64],
        tenant_id=tenant,
        target_tenant_id=target,
        user_id=user,
        client=str(client)[:64] if client else None,
        request_id=str(request_id)[:128] if request_id else None,
        path=str(path)[:300] if path else None,
    )


def dispatch(event: SecurityEvent) -> None:
    with _sinks_lock:
        sinks = list(_sinks.values())
    for sink in sinks:
        try:
            sink(event)
        except Exception:  # noqa: S112 - a broken consumer must never break the refusal
            continue


def security_events(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: feed every security log line to the sinks, unchanged."""
    if event_dict.get("event") in SECURITY_LOG_EVENTS:
        dispatch(event_from_log(event_dict))
    return event_dict

"""Structured logs: one JSON object per line, with request/tenant/user ids bound per request.

Security log lines also feed metrics and the operator's events table
(``observability.security``). That processor runs *before* the level filter, so
raising ``LOG_LEVEL`` above WARNING hides the lines but never loses the counts.

Every request writes one line (the edge's ``request``), so the chain's fixed costs are
paid per request: the processors below answer their common case (an enabled level, no
exception) without rebuilding anything, and the JSON encoder is built once. The lines
are the same, key for key and byte for byte.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.processors import _json_fallback_handler

from tenantry.observability.security import security_events


class _LevelFilter:
    def __init__(self, level: str) -> None:
        self.minimum = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        self._dropped: dict[str, bool] = {}  # per method name, decided once

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        dropped = self._dropped.get(method_name)
        if dropped is None:
            name = "WARNING" if method_name == "warn" else method_name.upper()
            level = logging.getLevelNamesMapping().get(name, logging.INFO)
            dropped = self._dropped[method_name] = level < self.minimum
        if dropped:
            raise structlog.DropEvent
        return event_dict


def _format_exc_info(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog's ``format_exc_info``, called only when the line carries ``exc_info``
    (without the key it changes nothing)."""
    if "exc_info" in event_dict:
        return structlog.processors.format_exc_info(logger, method_name, event_dict)
    return event_dict


# ``json.dumps(obj, default=...)`` builds this same encoder on every call.
_ENCODER = json.JSONEncoder(default=_json_fallback_handler)


def _dumps(obj: Any, **_: Any) -> str:
    """``json.dumps(obj, default=<structlog's fallback>)``, the encoder built once."""
    return _ENCODER.encode(obj)


def configure_logging(*, json_output: bool = True, level: str = "INFO") -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        security_events,
        _LevelFilter(level),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json_output
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        # Every level reaches the processors (security lines must be counted); the
        # level filter above drops the rest before any formatting work.
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        # One write per line: with several worker processes on one stdout (and
        # PYTHONUNBUFFERED), print() splits a line in two and lines interleave.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )


def ensure_security_processor() -> None:
    """Make sure security log lines reach the sinks whatever configured structlog
    (an embedding app, the test suite's defaults): insert the processor if missing."""
    processors = list(structlog.get_config()["processors"])
    if any(p is security_events for p in processors):
        return
    at = next(
        (i + 1 for i, p in enumerate(processors) if p is structlog.contextvars.merge_contextvars),
        0,
    )
    if at == 0:
        processors.insert(0, structlog.contextvars.merge_contextvars)
        at = 1
    processors.insert(at, security_events)
    structlog.configure(processors=processors)

"""Structured logs: one JSON object per line, with request/tenant/user ids bound per request.

Security log lines also feed metrics and the operator's events table
(``observability.security``). That processor runs *before* the level filter, so
raising ``LOG_LEVEL`` above WARNING hides the lines but never loses the counts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from tenantry.observability.security import security_events


class _LevelFilter:
    def __init__(self, level: str) -> None:
        self.minimum = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        name = "WARNING" if method_name == "warn" else method_name.upper()
        if logging.getLevelNamesMapping().get(name, logging.INFO) < self.minimum:
            raise structlog.DropEvent
        return event_dict


def configure_logging(*, json_output: bool = True, level: str = "INFO") -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        security_events,
        _LevelFilter(level),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
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

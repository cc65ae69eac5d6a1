"""The per-request fixed costs made cheaper (session 11) write the same things: the
request id has uuid4's format and bits, the JSON log line is byte for byte what
structlog's stock processors write, the edge's cached logger follows every
reconfiguration (``capture_logs`` included), and server workers collect the young
generation less often without touching the older ones."""

import datetime as dt
import gc
import json
import logging
import sys
import uuid
from typing import Any

import pytest
import structlog
from structlog.processors import _json_fallback_handler
from structlog.testing import capture_logs

from tenantry.isolation import middleware
from tenantry.observability import logging as tlogging
from tenantry.wsgi import YOUNG_GENERATION_THRESHOLD, collect_young_objects_less_often


@pytest.fixture
def restore_structlog():
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_a_new_request_id_is_a_random_uuid4_in_hex():
    ids = [middleware.new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for rid in ids:
        parsed = uuid.UUID(hex=rid)
        assert (parsed.hex, parsed.version, parsed.variant) == (rid, 4, uuid.RFC_4122)
    # every other bit is random: each of the 122 free bits is seen as 0 and as 1
    ones = [0] * 128
    for rid in ids:
        bits = int(rid, 16)
        for i in range(128):
            ones[i] += (bits >> i) & 1
    fixed = {76, 77, 78, 79, 62, 63}  # version nibble (bits 76-79), variant (62-63)
    assert all(0 < ones[i] < len(ids) for i in range(128) if i not in fixed)


class _Odd:
    def __repr__(self) -> str:
        return "<odd>"


class _Structlogged:
    def __structlog__(self) -> str:
        return "as structlog says"


EVENTS: list[dict[str, Any]] = [
    {"event": "request", "status": 200, "duration_ms": 1.25, "tenant_id": None},
    {"event": "ünïcode ✓", "path": '/a"b\\c\n', "n": [1, 2.5, True, None]},
    {"event": "odd", "id": uuid.UUID(int=7), "at": dt.datetime(2026, 1, 2), "o": _Odd()},
    {"event": "structlog", "v": _Structlogged(), "nan": float("nan"), "big": 10**30},
]


@pytest.mark.parametrize("event", EVENTS)
def test_the_json_renderer_writes_what_json_dumps_with_structlogs_fallback_writes(event):
    stock = structlog.processors.JSONRenderer()(None, "info", dict(event))
    assert stock == json.dumps(event, default=_json_fallback_handler)
    assert tlogging._dumps(dict(event), default=_json_fallback_handler) == stock


def test_exception_info_is_formatted_as_structlog_formats_it():
    try:
        raise ValueError("boom")
    except ValueError:
        with_exc = {"event": "e", "exc_info": True}
        stock = structlog.processors.format_exc_info(None, "error", dict(with_exc))
        ours = tlogging._format_exc_info(None, "error", dict(with_exc))
    assert "ValueError: boom" in ours["exception"]
    assert ours == stock
    plain = {"event": "e", "x": 1}
    assert tlogging._format_exc_info(None, "info", dict(plain)) == plain


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING", "ERROR", "nonsense"])
def test_the_level_filter_drops_what_it_dropped_before(level):
    def stock_drops(method_name: str) -> bool:
        minimum = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        name = "WARNING" if method_name == "warn" else method_name.upper()
        return logging.getLevelNamesMapping().get(name, logging.INFO) < minimum

    keep = tlogging._LevelFilter(level)
    for _ in range(2):  # the second time from its memory
        for name in ("debug", "info", "warn", "warning", "error", "exception", "critical",
                     "fatal", "msg", "odd"):  # fmt: skip
            try:
                keep(None, name, {})
                dropped = False
            except structlog.DropEvent:
                dropped = True
            assert dropped == stock_drops(name), (level, name)


def _line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return json.loads(out[0])


def test_the_request_line_is_written_as_the_stock_chain_writes_it(restore_structlog, capsys):
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="r-12345678", client="127.0.0.1")
    fields = dict(request_id="r-12345678", tenant_id=None, user_id="u", method="GET",
                  path="/x", status=200, duration_ms=0.5)  # fmt: skip
    try:
        tlogging.configure_logging(json_output=True, level="INFO")
        middleware.access_log().info("request", **fields)
        ours = capsys.readouterr().out
        # the chain as it was configured before session 11
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                tlogging.security_events,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
            logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        )
        structlog.get_logger("tenantry.access").info("request", **fields)
        stock = capsys.readouterr().out
    finally:
        structlog.contextvars.clear_contextvars()
    assert ours.endswith("}\n") and stock.endswith("}\n")
    ours_d, stock_d = json.loads(ours), json.loads(stock)
    assert list(ours_d) == list(stock_d)  # same keys in the same order
    ours_d.pop("timestamp"), stock_d.pop("timestamp")
    assert ours_d == stock_d
    assert json.dumps(ours_d) == json.dumps(stock_d)


def test_the_edge_logger_follows_reconfiguration_and_capture_logs(restore_structlog, capsys):
    tlogging.configure_logging(json_output=True, level="INFO")
    first = middleware.access_log()
    assert middleware.access_log() is first  # bound once per configuration
    with capture_logs() as captured:
        middleware.access_log().info("request", status=200)
    assert [e["event"] for e in captured] == ["request"]
    assert capsys.readouterr().out == ""
    middleware.access_log().info("request", status=201)
    assert _line(capsys)["status"] == 201
    tlogging.configure_logging(json_output=True, level="WARNING")  # a new processors list
    assert middleware.access_log() is not first
    middleware.access_log().info("request", status=202)
    assert capsys.readouterr().out == ""  # info is below WARNING now


def test_server_workers_collect_the_young_generation_less_often():
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 11, 12)
        collect_young_objects_less_often()
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, 11, 12)
        assert YOUNG_GENERATION_THRESHOLD > 700
    finally:
        gc.set_threshold(*saved)

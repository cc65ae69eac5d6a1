"""The API throughput bench's per-request server figures (bench/api_throughput/usage.py):
CPU from ``/proc/<pid>/stat`` and context switches summed over the process's threads."""

from __future__ import annotations

import os
import threading

import pytest
from bench.api_throughput import usage

# A command name with a space and a ")" in it: fields count from the last ")".
STAT = "4242 (uvicorn ) x) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 70 0 0 20 0 3 0 5 6 7"


def test_cpu_seconds_are_read_after_the_command_name() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    assert usage.cpu_seconds(STAT) == (250 / ticks, 70 / ticks)


def test_switch_counts_come_from_the_status_lines() -> None:
    text = "Name:\tpython\nvoluntary_ctxt_switches:\t31\nnonvoluntary_ctxt_switches:\t4\n"
    assert usage.switch_counts(text) == (31, 4)
    assert usage.switch_counts("Name:\tpython\n") == (0, 0)


def test_per_request_counts_new_threads_from_zero_and_skips_gone_ones() -> None:
    before = usage.Usage(1.0, 0.5, {1: (10, 2), 2: (100, 5)})  # thread 2 exits
    after = usage.Usage(1.3, 0.6, {1: (30, 4), 3: (40, 0)})  # thread 3 is new
    spent = usage.per_request(before, after, requests=100)
    assert spent.cpu_ms == pytest.approx(4.0)  # (0.3 + 0.1) s / 100
    assert spent.sys_ms == pytest.approx(1.0)
    assert spent.voluntary_switches == pytest.approx((20 + 40) / 100)
    assert spent.involuntary_switches == pytest.approx(2 / 100)


def test_a_live_process_is_read_with_every_thread() -> None:
    pid = os.getpid()
    assert usage.available(pid)
    started, stop = threading.Event(), threading.Event()

    def idle() -> None:
        started.set()
        stop.wait(10)

    worker = threading.Thread(target=idle)
    worker.start()
    try:
        started.wait(10)
        first = usage.snapshot(pid)
        sum(i * i for i in range(200_000))  # some CPU between the snapshots
        second = usage.snapshot(pid)
    finally:
        stop.set()
        worker.join()
    assert {pid, worker.native_id} <= set(second.switches)
    assert second.user_s + second.system_s >= first.user_s + first.system_s
    assert usage.per_request(first, second, requests=1).cpu_ms >= 0


def test_runs_replay_the_cookie_a_browser_would_hold_now() -> None:
    """Before each run the bench takes the re-issued session cookie, as a browser would
    (wrk replays what it was given: past a minute, every request would be re-signed)."""
    import http.server

    from bench.api_throughput.load import Request
    from bench.api_throughput.main import browser_cookies
    from bench.api_throughput.servers import Server

    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Set-Cookie", "tenantry_session=new; Path=/; HttpOnly")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever)
    thread.start()
    try:
        server = Server("tenantry", f"http://127.0.0.1:{httpd.server_port}", os.getpid())
        ask = Request("/x", headers=(("Cookie", "tenantry_session=old; tenant_sig=s"), ("X", "1")))
        fresh = browser_cookies(server, ask)
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()
    assert seen == ["tenantry_session=old; tenant_sig=s"]
    assert dict(fresh.headers) == {"X": "1", "Cookie": "tenantry_session=new; tenant_sig=s"}
    assert fresh.path == ask.path

"""Memory under a flood of huge unauthenticated bodies (issue 8, finding 3).

Serves Tenantry (``tenantry serve``, one process, job worker on, as deployed) and sends
four concurrent 300 MB POSTs carrying an ``Idempotency-Key`` and no cookies — once with
chunked bodies (no length announced: the limit must be counted while streaming) and once
with the length announced — while sampling the server's resident memory (psutil, every
20 ms). The baseline is the same server answering four small POSTs in the same run.

    .venv/bin/python -m bench.body_flood            # fresh embedded PostgreSQL in a temp dir
    .venv/bin/python -m bench.body_flood --mb 300 --results-dir bench/results

The client is a raw socket: it sends 1 MiB chunks until the server answers, so "bytes
sent" shows how much the server let in before refusing (the kernel's socket buffers
account for a few MB of it). ``tests/e2e/test_body_flood.py`` runs the same flood
against the test database and asserts the peak stays under 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

MiB = 1024 * 1024
CHUNK = MiB
ROUTES = (
    "/api/admin/expenses",  # tenant JSON route
    "/api/admin/service-requests/{uuid}/attachments",  # upload route (streams its body)
    "/api/payments/webhook",  # system route
    "/api/auth/login",  # public JSON route
)


@dataclass
class Flooded:
    path: str
    chunked: bool
    status: int | None
    sent_bytes: int
    error: str | None = None


@dataclass
class RssSampler:
    """Peak resident memory of a process and its children, sampled in a thread."""

    pid: int
    interval_s: float = 0.02
    peak: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def rss(self) -> int:
        proc = psutil.Process(self.pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                if "postgres" not in child.name():
                    total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def __enter__(self) -> RssSampler:
        self.peak = self.rss()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.peak = max(self.peak, self.rss())
                    self.samples += 1
                except psutil.Error:
                    return
                self._stop.wait(self.interval_s)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def flood(port: int, path: str, *, total: int, chunked: bool, timeout_s: float = 60) -> Flooded:
    """POST ``total`` bytes with an Idempotency-Key and no cookies until the server answers."""
    path = path.replace("{uuid}", str(uuid.uuid4()))
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Idempotency-Key: flood-{uuid.uuid4().hex}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    data = b"{" * CHUNK
    frame = f"{CHUNK:x}\r\n".encode() + data + b"\r\n" if chunked else data
    sent = 0
    error: str | None = None
    deadline = time.monotonic() + timeout_s
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(head)
        sock.settimeout(0.5)
        while sent < total and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered: stop sending
            try:
                sock.sendall(frame)
            except TimeoutError:
                continue  # the server is not reading: look for its answer again
            except OSError as exc:
                error = type(exc).__name__
                break
            sent += CHUNK
        if chunked and sent >= total:
            with suppress(OSError):
                sock.sendall(b"0\r\n\r\n")
        status = _read_status(sock, deadline)
    return Flooded(path, chunked, status, sent, error)


def _read_status(sock: socket.socket, deadline: float) -> int | None:
    buffer = b""
    sock.settimeout(2)
    while b"\r\n" not in buffer and time.monotonic() < deadline:
        try:
            part = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break  # reset after the answer was sent: what was read so far counts
        if not part:
            break
        buffer += part
    line = buffer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None


def flood_concurrently(
    port: int, paths: Sequence[str], *, total: int, chunked: bool
) -> list[Flooded]:
    results: list[Flooded | None] = [None] * len(paths)

    def one(i: int, path: str) -> None:
        results[i] = flood(port, path, total=total, chunked=chunked)

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(paths)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


@dataclass
class FloodReport:
    idle_rss: int
    baseline_peak: int
    flood_peak: int
    results: list[Flooded]

    def lines(self) -> list[str]:
        out = [
            f"idle RSS                 {self.idle_rss / MiB:7.1f} MB",
            f"peak, 4 small POSTs      {self.baseline_peak / MiB:7.1f} MB",
            f"peak, 4+4 x 300 MB POSTs {self.flood_peak / MiB:7.1f} MB "
            f"(x{self.flood_peak / max(self.baseline_peak, 1):.2f} of the baseline peak)",
        ]
        for r in self.results:
            how = "chunked" if r.chunked else "length "
            out.append(
                f"  {how} {r.path[:60]:60} -> {r.status}  sent {r.sent_bytes / MiB:6.1f} MB"
                + (f" ({r.error})" if r.error else "")
            )
        return out


def measure(port: int, pid: int, *, total: int) -> FloodReport:
    """Baseline (four small POSTs), then four chunked and four announced floods at once."""
    sampler = RssSampler(pid)
    idle = sampler.rss()
    with RssSampler(pid) as base:
        flood_concurrently(port, ROUTES, total=1024, chunked=False)
    results: list[Flooded] = []
    with RssSampler(pid) as peak:
        for chunked in (True, False):
            results += flood_concurrently(port, ROUTES, total=total, chunked=chunked)
    return FloodReport(idle, base.peak, peak.peak, results)


# --------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(env: dict[str, str], *, log: Path, job_worker: bool = True) -> Iterator[tuple[int, int]]:
    """``tenantry serve`` in a subprocess (its own process group); yields (port, pid)."""
    port = free_port()
    tenantry = Path(sys.executable).with_name("tenantry")
    cmd = [str(tenantry), "serve", "--port", str(port), "--no-demo"]
    if not job_worker:
        cmd.append("--no-job-worker")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tenantry serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tenantry serve not healthy: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        if proc.poll() is None:
            # SIGINT lets Python's exit hooks run (the embedded PostgreSQL stops with them).
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=300, help="size of each flood body in MB")
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"))
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tenantry-flood-") as tmp:
        env = {**os.environ, "TENANTRY_DATA_DIR": tmp, "TENANTRY_LOG_LEVEL": "WARNING"}
        with served(env, log=Path(tmp) / "serve.log") as (port, pid):
            report = measure(port, pid, total=args.mb * MiB)
    for line in report.lines():
        print(line)
    if not args.no_results:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out = args.results_dir / "body_flood.json"
        out.write_text(json.dumps(asdict(report), indent=2) + "\n")
        print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

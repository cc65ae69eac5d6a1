"""The two servers under test, each one uvicorn process with one worker, same options."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
UVICORN_OPTIONS = ("--workers", "1", "--no-access-log", "--log-level", "warning")


@dataclass(frozen=True)
class Server:
    name: str
    base: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Spec:
    name: str
    target: list[str]  # uvicorn's application argument(s)
    env: dict[str, str]


@contextlib.contextmanager
def serve(specs: list[Spec], logs: Path) -> Iterator[dict[str, Server]]:
    """Each spec as ``uvicorn <target>`` on a free loopback port, started together (start-up
    dominates a short run), until the block ends."""
    procs: dict[str, tuple[subprocess.Popen[bytes], str, Path]] = {}
    try:
        for spec in specs:
            port = free_port()
            cmd = [sys.executable, "-m", "uvicorn", *spec.target, "--host", "127.0.0.1",
                   "--port", str(port), *UVICORN_OPTIONS]  # fmt: skip
            log = logs / f"{spec.name}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    cmd, cwd=ROOT, env={**os.environ, **spec.env}, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            procs[spec.name] = (proc, f"http://127.0.0.1:{port}", log)
        for proc, base, log in procs.values():
            _wait_healthy(base, proc, log)
        yield {name: Server(name, base, proc.pid) for name, (proc, base, _) in procs.items()}
    finally:
        for proc, _, _ in procs.values():
            _stop(proc)


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy in time: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
        proc.wait(timeout=10)

"""Where the Tenantry server's time goes: ``py-spy record --gil`` while wrk runs.

``--gil`` samples only the thread holding the GIL, i.e. Python CPU time (waiting on
the database or on a lock is not sampled). The report lists each function's share of
the samples in which it is on the stack (inclusive), for the libraries of the request
path, and the top functions by own time (exclusive).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Frames worth naming: our code and the request path's libraries.
INTERESTING = re.compile(
    r"(tenantry/|sqlalchemy/|fastapi/|starlette/|anyio/|psycopg/|psycopg_pool/|pydantic|"
    r"structlog/|uvicorn/|h11/|itsdangerous/|asyncio/|threading|queue)"
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:]*):?(?P<line>\d*)\)$")


@dataclass(frozen=True)
class Profile:
    samples: int
    inclusive: list[tuple[float, str]]
    exclusive: list[tuple[float, str]]

    def text(self, top: int = 45) -> str:
        lines = [f"{self.samples} samples (GIL held)", "", "inclusive:"]
        lines += [f"  {share:5.1f}%  {name}" for share, name in self.inclusive[:top]]
        lines += ["", "exclusive (own time):"]
        lines += [f"  {share:5.1f}%  {name}" for share, name in self.exclusive[:25]]
        return "\n".join(lines) + "\n"


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"  # installed into the venv (dev extra)
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    return subprocess.Popen(
        [
            exe,
            "record",
            "-p",
            str(pid),
            "-d",
            str(max(1, round(seconds))),
            "-r",
            "250",
            "--gil",
            "--nonblocking",
            "-f",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _name(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match.group("file")
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match.group('func')} ({path})"


def summarize(raw: Path) -> Profile:
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        for name in set(frames):
            if INTERESTING.search(name):
                inclusive[name] += n
        exclusive[frames[-1]] += n

    def share(counter: collections.Counter[str]) -> list[tuple[float, str]]:
        return [(100 * n / max(total, 1), name) for name, n in counter.most_common()]

    return Profile(total, share(inclusive), share(exclusive))

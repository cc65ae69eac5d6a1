"""The load generator: ``wrk`` (Debian's package), one thread, a fixed connection count.

``wrk --latency`` prints requests/s and a latency distribution; the parser reads
requests/s, p50 and p99, and the count of non-2xx answers (a run with errors is
reported as such, never silently averaged in).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    body: dict[str, object] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # A body field holding an ISO start time (UTC, whole hour) that every request moves
    # to an hour no request of this process used before: the booking rules refuse a
    # second booking at a taken time, so a write bench must book a new hour each time.
    distinct_hour: str | None = None


# Hours handed out so far by distinct-hour requests (both sides, every run).
_hours_used = 0


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _script(request: Request, folder: Path) -> Path:
    """A wrk Lua script that sets the method, body and headers of every request."""
    lines = [f"wrk.method = {json.dumps(request.method)}"]
    if request.body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(request.body))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    for name, value in request.headers:
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if request.body is not None and request.distinct_hour:
        field = request.distinct_hour
        first = datetime.fromisoformat(str(request.body[field])) + timedelta(hours=_hours_used + 1)
        marker = "@@HOUR@@"
        template = json.dumps({**request.body, field: marker}).replace("%", "%%")
        template = template.replace(marker, "%s")
        lines += [
            f"local first = {int(first.timestamp())}",
            "local n = -1",
            "request = function()",
            "  n = n + 1",
            '  local at = os.date("!%Y-%m-%dT%H:%M:%S+00:00", first + n * 3600)',
            f"  return wrk.format(nil, nil, nil, string.format({json.dumps(template)}, at))",
            "end",
        ]
    path = folder / "request.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(base: str, request: Request, *, seconds: float, connections: int) -> LoadResult:
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script = _script(request, Path(folder))
        out = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                str(script),
                base + request.path,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    result = parse_wrk(out)
    if request.distinct_hour:
        global _hours_used
        # wrk may have sent one request per connection more than it counted as done.
        _hours_used += result.requests + connections + 1
    return result


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if match is None:
        raise ValueError(f"unreadable wrk latency {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(out: str) -> LoadResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{out}")
        return match

    done = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return LoadResult(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2) + done.group(3)) / 1000,
        rps=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )

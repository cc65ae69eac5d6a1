"""What a server process spent per request: CPU (user, system) and context switches.

Requests per second move with whatever else the machine runs; CPU per request and
context switches per request move much less, and they say *why* a side is slower:
Python work (user CPU) or threads handing the GIL back and forth (system CPU and
voluntary switches: every hand-off is a futex wait and a wake-up).

Read from ``/proc`` (Linux): ``/proc/<pid>/stat`` has the process's user and system
time, the exited threads' included; switches are per thread
(``/proc/<pid>/task/<tid>/status``), so a thread that exits between two snapshots
takes its switches of that interval with it — the count is a lower bound (a worker
thread exits only after idling, which it does not under load).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class Usage:
    """A snapshot of one process: CPU seconds and each live thread's switch counts."""

    user_s: float
    system_s: float
    switches: dict[int, tuple[int, int]] = field(default_factory=dict)  # tid: (vol, invol)


@dataclass(frozen=True)
class PerRequest:
    cpu_ms: float
    sys_ms: float
    voluntary_switches: float  # context switches per request
    involuntary_switches: float


def cpu_seconds(stat_line: str) -> tuple[float, float]:
    """User and system seconds from a ``/proc/<pid>/stat`` line (fields 14 and 15; the
    command name in parentheses may hold spaces, so fields count from its ``)``)."""
    fields = stat_line.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def switch_counts(status_text: str) -> tuple[int, int]:
    """Voluntary and involuntary context switches from a ``status`` file's text."""
    found = {}
    for line in status_text.splitlines():
        name, _, value = line.partition(":")
        if name in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            found[name] = int(value)
    return found.get("voluntary_ctxt_switches", 0), found.get("nonvoluntary_ctxt_switches", 0)


def available(pid: int) -> bool:
    return (_PROC / str(pid) / "stat").exists()


def snapshot(pid: int) -> Usage:
    user, system = cpu_seconds((_PROC / str(pid) / "stat").read_text())
    switches: dict[int, tuple[int, int]] = {}
    for task in (_PROC / str(pid) / "task").iterdir():
        try:
            switches[int(task.name)] = switch_counts((task / "status").read_text())
        except (FileNotFoundError, ProcessLookupError):  # the thread exited meanwhile
            continue
    return Usage(user, system, switches)


def per_request(before: Usage, after: Usage, requests: int) -> PerRequest:
    """Spent between two snapshots, divided by the requests served in between. Threads
    born meanwhile count from zero; threads gone meanwhile are not counted."""
    n = max(requests, 1)
    voluntary = involuntary = 0
    for tid, (vol, invol) in after.switches.items():
        vol0, invol0 = before.switches.get(tid, (0, 0))
        voluntary += vol - vol0
        involuntary += invol - invol0
    return PerRequest(
        cpu_ms=1000 * ((after.user_s - before.user_s) + (after.system_s - before.system_s)) / n,
        sys_ms=1000 * (after.system_s - before.system_s) / n,
        voluntary_switches=voluntary / n,
        involuntary_switches=involuntary / n,
    )

"""A probe of the cyclic garbage collector in a served worker (experiments only).

Put this folder on a server's ``PYTHONPATH`` (``served.py TREE@PYTHONPATH=<tree>/src:<this
folder>``): every collection's CPU time is summed per generation (``gc.callbacks``), and on
``SIGUSR1`` the process writes ``<seconds> <gen0> <gen1> <gen2> <gen2 seconds>`` to
``$GC_PROBE_FILE`` (``{pid}`` replaced; default ``/tmp/gc-probe-{pid}.txt``), which
``served.py --gc-file`` reads before and after each run. ``GC_THRESHOLD=a,b,c`` sets the
thresholds at start-up instead (to compare settings without changing code).
"""

import gc
import os
import signal
import time
from typing import Any

if os.environ.get("GC_THRESHOLD"):
    gc.set_threshold(*(int(x) for x in os.environ["GC_THRESHOLD"].split(",")))

_started: dict[int, float] = {}
_spent = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}


def _callback(phase: str, info: dict[str, Any]) -> None:
    generation = info["generation"]
    if phase == "start":
        _started[generation] = time.process_time()
        return
    figures = _spent[generation]
    figures[0] += 1
    figures[1] += time.process_time() - _started.get(generation, time.process_time())


def _write(*_: Any) -> None:
    path = os.environ.get("GC_PROBE_FILE", "/tmp/gc-probe-{pid}.txt").format(pid=os.getpid())
    total = sum(f[1] for f in _spent.values())
    counts = " ".join(str(_spent[g][0]) for g in (0, 1, 2))
    with open(path, "w") as out:
        out.write(f"{total} {counts} {_spent[2][1]}")


gc.callbacks.append(_callback)
signal.signal(signal.SIGUSR1, _write)

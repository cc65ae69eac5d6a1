#!/usr/bin/env python3
"""Task runner that needs nothing but Python 3.11+.

    python3 dev.py run        set up (first time) and serve the app on the embedded database
    python3 dev.py test       set up (first time) and run the whole test suite
    python3 dev.py lint       ruff check, ruff format --check, then the import contracts
    python3 dev.py typecheck  mypy --strict on src/
    python3 dev.py bench      the isolation overhead benchmark
    python3 dev.py mutants    the mutation check: security bugs the proof must catch
                              (tools/mutants.py; ~40 min with --jobs 2, not in CI)

The first call creates .venv and installs the project with its dev dependencies;
later calls reinstall only when pyproject.toml changed. Extra arguments are passed on
(``python3 dev.py run --port 9000``, ``python3 dev.py test -k signing``).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".tenantry-installed"


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run on an older python3
        sys.exit(f"Tenantry needs Python 3.11 or newer (this is {sys.version.split()[0]}).")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PY.exists():
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing Tenantry and its dependencies (first run only) ...", flush=True)
    subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"])  # noqa: S603
    subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]"])  # noqa: S603
    STAMP.write_text(wanted)


def run(*cmd: str) -> int:
    """Run ``cmd`` and wait for it, passing SIGINT and SIGTERM on to it.

    Stopping ``dev.py run`` by its own pid (``kill <pid>``) must stop the server too: a
    server left running keeps its embedded PostgreSQL running. The child has its own
    process group, so a terminal Ctrl-C reaches it once, through us (twice would make
    uvicorn skip its clean shutdown). This keeps waiting while the child shuts down
    cleanly (``subprocess.call`` would kill it)."""
    proc = subprocess.Popen(list(cmd), cwd=ROOT, process_group=0)  # noqa: S603

    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def whole_suite_in_parallel(args: list[str]) -> list[str]:
    """The whole suite runs in two pytest-xdist processes, whole files each (a file's
    module fixtures are built once); each has its own embedded PostgreSQL. A run that
    names tests (a path or node id that exists: an option's value such as
    ``-p no:cacheprovider`` or ``-k expr`` names none), or says ``-n`` itself, is left as
    asked. TENANTRY_TEST_JOBS=1 runs the whole suite in one process."""
    jobs = int(os.environ.get("TENANTRY_TEST_JOBS", "2"))
    names_tests = any(not a.startswith("-") and (ROOT / a.split("::", 1)[0]).exists() for a in args)
    says_jobs = any(a.startswith(("-n", "--numprocesses")) for a in args)
    if jobs < 2 or names_tests or says_jobs:
        return []
    return ["-n", str(jobs), "--dist", "loadfile"]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    task, rest = argv[0], argv[1:]
    ensure_env()
    if task == "run":
        return run(str(BIN / "tenantry"), "serve", *rest)
    if task == "test":
        return run(str(PY), "-m", "pytest", *whole_suite_in_parallel(rest), *rest)
    if task == "lint":
        paths = ("src", "tests", "bench", "tools")
        return (
            run(str(PY), "-m", "ruff", "check", *paths, *rest)
            or run(str(PY), "-m", "ruff", "format", "--check", *paths)
            or run(str(BIN / "lint-imports"))
        )
    if task == "typecheck":
        return run(str(PY), "-m", "mypy", "src", *rest)
    if task == "mutants":
        return run(str(PY), str(ROOT / "tools" / "mutants.py"), *rest)
    if task == "bench":
        return run(str(PY), "-m", "bench.isolation_overhead", *rest)
    print(f"unknown task {task!r}\n{__doc__}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

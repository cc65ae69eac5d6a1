"""``dev.py`` passes SIGTERM and SIGINT sent to its own pid on to the command it runs, so
stopping ``dev.py run`` by pid stops the server (and with it the embedded PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import signal, sys, time, pathlib
out = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    out.write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
out.write_text("ready")
time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_dev_py_reaches_its_child_once(tmp_path: Path, signum: int) -> None:
    marker = tmp_path / "child"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, dev; sys.exit(dev.run(sys.executable, '-c', sys.argv[1], sys.argv[2]))",
            CHILD,
            str(marker),
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text() == "ready"):
            assert time.monotonic() < deadline, "child did not start"
            time.sleep(0.05)
        runner.send_signal(signum)
        assert runner.wait(timeout=30) == 0
        assert marker.read_text() == signal.Signals(signum).name
    finally:
        runner.kill()


def _dev_module() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tenantry_dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("args", "parallel"),
    [
        ([], True),
        (["-q"], True),
        (["-q", "-p", "no:cacheprovider"], True),  # an option's value names no test
        (["-k", "single_read"], True),
        (["--timeout", "60"], True),
        (["tests/unit"], False),  # a run that names tests runs as asked
        (["tests/unit/test_dev_runner.py::test_a_signal_to_dev_py_reaches_its_child_once"], False),
        (["-n", "1"], False),
        (["--numprocesses=3"], False),
    ],
)
def test_the_whole_suite_runs_in_two_processes_unless_tests_or_jobs_are_named(
    args: list[str], parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENANTRY_TEST_JOBS", raising=False)
    extra = _dev_module().whole_suite_in_parallel(args)  # type: ignore[attr-defined]
    assert extra == (["-n", "2", "--dist", "loadfile"] if parallel else []), args

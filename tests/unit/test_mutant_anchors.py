"""Every mutation of ``python3 dev.py mutants`` still applies to this tree.

A mutant whose anchor text is gone would be reported as NOT APPLIED only when someone
runs the hour-long check; this keeps the list honest on every run of the suite (the
served companion faults — RLS off, guard filter off — included)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _mutants():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tools_mutants", ROOT / "tools" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_every_mutation_and_companion_fault_applies_exactly_once():
    mutants = _mutants()
    assert len(mutants.MUTANTS) >= 16
    problems = []
    for m in mutants.MUTANTS:
        for rel, old, new in (*m.changes, *m.serve_with):
            assert old != new, m.name
            found = (ROOT / "src" / rel).read_text().count(old)
            if found != 1:
                anchor = old.strip()[:60]
                problems.append(f"{m.name}: {rel}: anchor found {found} times: {anchor!r}")
    assert not problems, "\n".join(problems)

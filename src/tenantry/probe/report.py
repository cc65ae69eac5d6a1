"""What a run found: per-route statistics, findings, skipped routes with reasons."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Finding kinds. BREACHES (below) fail the test and ``tenantry probe``.
LEAK_BODY = "leak:response-carries-other-data"
LEAK_CHANGED = "leak:other-tenant-data-changed"
NOT_REFUSED = "breach:forged-or-foreign-credentials-accepted"
DISTINGUISHABLE = "finding:foreign-id-distinguishable-from-missing"
UNEXERCISED = "finding:route-not-exercised"
WRONG_MEMBERSHIP = "breach:role-or-membership-of-another-tenant"
IDENTITY_LOST = "note:identity-lost"
# A closing scenario the run was configured for could not be played (the operator could
# not suspend, the owner could not remove the leaver): fails ``--strict`` like an
# unexercised route — a scenario that silently did not run proves nothing.
SCENARIO_NOT_RUN = "finding:scenario-not-run"
BREACHES = (LEAK_BODY, LEAK_CHANGED, NOT_REFUSED, WRONG_MEMBERSHIP)


@dataclass
class Finding:
    kind: str
    route: str
    probe: str
    actor: str
    detail: str
    status: int | None = None
    request: str = ""

    def line(self) -> str:
        status = f" [{self.status}]" if self.status is not None else ""
        return f"{self.kind}: {self.route} — {self.probe} as {self.actor}{status}: {self.detail}"


@dataclass
class RouteStats:
    route: str
    scope: str | None
    probes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    # Exercised: a baseline got 2xx, so the attacks started from the success path.
    # Reached: some probe got past authentication and validation (weaker).
    exercised: bool = False
    reached: bool = False
    skipped: str | None = None  # reason, when not probed at all
    exempt: str | None = None  # reason, when allowed to stay unexercised
    baseline: str = ""  # how the valid request was built (or why it could not be)


@dataclass
class Report:
    target: str
    routes: dict[str, RouteStats] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    scenario_probes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def route(self, key: str, scope: str | None) -> RouteStats:
        if key not in self.routes:
            self.routes[key] = RouteStats(key, scope)
        return self.routes[key]

    # ------------------------------------------------------------------ views

    @property
    def probes(self) -> int:
        return sum(r.probes for r in self.routes.values()) + sum(self.scenario_probes.values())

    @property
    def statuses(self) -> Counter[int]:
        total: Counter[int] = Counter()
        for r in self.routes.values():
            total.update(r.statuses)
        return total

    def of_kind(self, *kinds: str) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]

    @property
    def leaks(self) -> list[Finding]:
        return self.of_kind(*BREACHES)

    @property
    def skipped(self) -> list[RouteStats]:
        return [r for r in self.routes.values() if r.skipped]

    @property
    def unexercised(self) -> list[RouteStats]:
        return [
            r for r in self.routes.values() if not r.skipped and not r.exercised and not r.exempt
        ]

    def summary(self) -> str:
        routes = list(self.routes.values())
        probed = [r for r in routes if not r.skipped]
        lines = [
            f"isolation probe against {self.target}",
            f"  routes      {len(routes)} total, {len(probed)} probed, "
            f"{sum(r.exercised for r in probed)} exercised, {len(self.skipped)} skipped",
            f"  probes      {self.probes}",
            "  outcomes    "
            + ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items())),
            "  scenarios   "
            + (", ".join(f"{k}: {n}" for k, n in sorted(self.scenario_probes.items())) or "-"),
            f"  leaks       {len(self.leaks)}",
            f"  findings    {len(self.findings) - len(self.leaks)}",
        ]
        if self.leaks:
            lines.append("LEAKS")
            lines += [f"  {f.line()}" for f in self.leaks[:50]]
        others = [f for f in self.findings if f.kind not in BREACHES]
        if others:
            lines.append("FINDINGS")
            lines += [f"  {f.line()}" for f in others[:50]]
            if len(others) > 50:
                lines.append(f"  ... and {len(others) - 50} more (see the JSON report)")
        lines.append(f"{'route':58} {'scope':7} {'probes':>6}  outcome")
        for r in sorted(routes, key=lambda r: r.route.split(" ", 1)[::-1]):
            if r.skipped:
                outcome = f"skipped: {r.skipped}"
            elif r.exercised:
                outcome = "exercised " + " ".join(f"{s}x{n}" for s, n in sorted(r.statuses.items()))
            elif r.exempt:
                outcome = f"exempt: {r.exempt}"
            else:
                outcome = "NOT EXERCISED " + " ".join(
                    f"{s}x{n}" for s, n in sorted(r.statuses.items())
                )
            lines.append(f"{r.route:58} {r.scope or '-':7} {r.probes:>6}  {outcome}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "probes": self.probes,
            "outcomes": {str(k): v for k, v in sorted(self.statuses.items())},
            "scenarios": dict(self.scenario_probes),
            "leaks": [asdict(f) for f in self.leaks],
            "findings": [asdict(f) for f in self.findings if f.kind not in BREACHES],
            "routes": [
                {
                    "route": r.route,
                    "scope": r.scope,
                    "probes": r.probes,
                    "statuses": {str(k): v for k, v in sorted(r.statuses.items())},
                    "exercised": r.exercised,
                    "reached": r.reached,
                    "skipped": r.skipped,
                    "exempt": r.exempt,
                    "baseline": r.baseline,
                }
                for r in self.routes.values()
            ],
            "notes": self.notes,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str))

"""The state of one run that harvest, markers and the closing scenarios work on.

The engine owns the sweep; these parts need only who takes part (A's and B's signed-in
identities), what was seen of each side, the markers, and the means to build and send
requests and to record findings — so they get this object, not the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenantry.probe.bank import Bank
from tenantry.probe.config import Config
from tenantry.probe.data import DataAdapter
from tenantry.probe.exemptions import skip_reason
from tenantry.probe.http import Actor, Sent, Transport
from tenantry.probe.oracle import Markers
from tenantry.probe.report import Finding, Report
from tenantry.probe.requests import RequestFactory
from tenantry.probe.spec import Operation, Spec
from tenantry.probe.values import STYLES, Style


@dataclass
class Seen:
    """What the harvest found: per identity (``a.owner``...), per tenant, and the ids
    that only A's own rows hold (the data adapter's view, in-process)."""

    banks: dict[str, Bank] = field(default_factory=dict)
    a: Bank = field(default_factory=Bank)
    b: Bank = field(default_factory=Bank)
    a_rows: set[str] = field(default_factory=set)
    b_rows: set[str] = field(default_factory=set)  # B's own rows' ids (data adapter only)
    a_row_strings: set[str] = field(default_factory=set)
    # Records of A's other client: the first client must never reach them.
    other_client_owned: set[str] = field(default_factory=set)


@dataclass
class RunState:
    cfg: Config
    t: Transport
    report: Report
    spec: Spec
    requests: RequestFactory
    adapter: DataAdapter | None = None
    a: dict[str, Actor] = field(default_factory=dict)
    b: dict[str, Actor] = field(default_factory=dict)
    seen: Seen = field(default_factory=Seen)
    markers_b: Markers = field(default_factory=lambda: Markers("tenant B"))
    markers_c2: Markers = field(default_factory=lambda: Markers("another client of A"))
    # Ids A holds legitimately (its own rows, its members): never used as "B's id".
    a_known: set[str] = field(default_factory=set)
    # The body style that passed validation, per operation.
    styles: dict[str, Style] = field(default_factory=dict)

    @property
    def a_tenant_id(self) -> str:
        return next(iter(self.a.values())).tenant_id

    @property
    def b_tenant_id(self) -> str:
        return self.b["owner"].tenant_id

    def style_for(self, op: Operation) -> Style:
        """The body style that passed validation for ``op`` (default: every property)."""
        return self.styles.get(op.key, STYLES[0])

    def tenant_ops(self) -> list[Operation]:
        """Tenant-scoped operations of this run (selected, not skipped)."""
        return [
            op
            for op in self.spec.operations
            if op.scope == "tenant"
            and skip_reason(op.key) is None
            and (self.cfg.select is None or self.cfg.select(op.key))
        ]

    def finding(
        self, kind: str, route: str, probe: str, actor: str, detail: str, sent: Sent | None = None
    ) -> None:
        self.report.findings.append(
            Finding(
                kind=kind,
                route=route,
                probe=probe,
                actor=actor,
                detail=detail,
                status=sent.status if sent else None,
                request=f"{sent.method} {sent.url}" if sent else "",
            )
        )

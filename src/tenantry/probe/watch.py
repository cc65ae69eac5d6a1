"""Did tenant B's data change? Two independent looks.

* B's own API view: every list B's owner (and client) can read, read before the run and
  after every mutating route — the only look available over HTTP. Reads that change
  between two identical calls (clocks, "upcoming" windows) are left out, and listed.
* B's rows, through the data adapter (in-process): a digest per table, compared after
  every probe.

Both are re-based after every look, so one change is reported once, against the probe
or route that made it; B's own reads re-base the row digest (a read that writes on
B's side must not be blamed on the next probe of A).
"""

from __future__ import annotations

from typing import Any

from tenantry.probe.data import DataAdapter
from tenantry.probe.http import Actor, Transport
from tenantry.probe.spec import Operation

View = list[tuple[Actor, Operation]]


class ChangeWatch:
    def __init__(
        self, transport: Transport, adapter: DataAdapter | None, *, tenant_id: str, slug: str
    ) -> None:
        self.t = transport
        self.adapter = adapter
        self.tenant_id = tenant_id
        self.slug = slug
        self._plan: View = []
        self._view: dict[str, str] = {}
        self._rows: dict[str, str] | None = None

    def reference(self, candidates: View) -> list[str]:
        """Take the reference view; return the reads left out as unstable."""
        first = {_key(x, op): self._read(x, op) for x, op in candidates}
        second = {_key(x, op): self._read(x, op) for x, op in candidates}
        stable = {k for k, v in first.items() if v is not None and v == second[k]}
        self._plan = [(x, op) for x, op in candidates if _key(x, op) in stable]
        self._view = {k: v for k, v in second.items() if k in stable and v is not None}
        self.rebase_rows()
        return sorted(k for k, v in first.items() if k not in stable and v is not None)

    @property
    def reads(self) -> int:
        return len(self._plan)

    def rebase_rows(self) -> None:
        if self.adapter is not None:
            self._rows = self.adapter.digest(self.tenant_id)

    def rows_changed(self) -> list[str]:
        """Tables of B whose rows changed since the last look (adapter only)."""
        if self.adapter is None or self._rows is None:
            return []
        now = self.adapter.digest(self.tenant_id)
        changed = sorted(t for t in now if now.get(t) != self._rows.get(t))
        self._rows = now
        return changed

    def view_changed(self) -> list[str]:
        """B's reads whose answer changed since the last look."""
        changed = []
        for actor, op in self._plan:
            key, now = _key(actor, op), self._read(actor, op)
            if now is not None and now != self._view.get(key):
                changed.append(key)
                self._view[key] = now
        self.rebase_rows()
        return changed

    def _read(self, actor: Actor, op: Operation) -> str | None:
        host = self.t.tenant_host(self.slug) if op.scope == "public" else None
        sent = self.t.request(
            "GET", op.path, cookies=actor.cookies, headers={"host": host} if host else None
        )
        if sent.status != 200:
            return None
        return sent.text or repr(_canonical(sent.body))


def _key(actor: Actor, op: Operation) -> str:
    return f"{op.key} as {actor.label}"


def _canonical(data: Any) -> Any:
    if isinstance(data, dict):
        return sorted((k, _canonical(v)) for k, v in data.items())
    if isinstance(data, list):
        return [_canonical(v) for v in data]
    return data

"""Scenario: a nested route needs the read permission of the record it hangs from.

Issue 8, finding 5: with staff limited to ``attachments.read, chat.read`` the expense
list was refused but the expense's attachments (and a request's chat) were served.
Generically, for every tenant route that reaches a child resource through a parent
record — ``/api/admin/<parent>/{id}/<child>...`` where ``<child>`` is a resource of its
own (``/api/admin/<child>`` or ``/api/admin/<child>/...`` exists: chat, attachments) —
the parent's read permissions are taken from the document (the ``.read`` permissions of
``GET /api/admin/<parent>/{id}``, else of ``GET /api/admin/<parent>``, in
``x-tenantry-permissions``). A's staff is given EVERY
permission of the catalogue except those, and calls the nested route with A's own ids:
it must be refused (403). Staff's permissions are restored afterwards. (Actions on the
record itself — ``/{id}/assign``, ``/{id}/publish`` — are the record's own routes and
carry its own permissions; the declared-table test covers those.)

Needs A's owner (to change the matrix) and A's staff; otherwise skipped with a note.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tenantry.probe.oracle import outcome
from tenantry.probe.report import NOT_REFUSED
from tenantry.probe.spec import Operation

if TYPE_CHECKING:
    from tenantry.probe.state import RunState

NAME = "nested-route-without-parent-read"
MATRIX = "/api/admin/permissions"
_NESTED = re.compile(r"^(/api/admin/[^{}]+?)/\{[^}/]+\}/([^{}/]+)")


def parent_reads(op: Operation, by_key: dict[str, Operation]) -> tuple[str, ...]:
    """The ``.read`` permissions of the record ``op`` reaches a child resource through
    (none: not nested, or an action on the record itself)."""
    match = _NESTED.match(op.path)
    if match is None:
        return ()
    prefix, child = match.group(1), match.group(2)
    own = f"/api/admin/{child}"
    if not any(o.path == own or o.path.startswith(own + "/") for o in by_key.values()):
        return ()
    # The record's own read route, else its collection's.
    gets = [o for key, o in by_key.items() if key.startswith("GET ")]
    item = re.escape(prefix) + r"/\{[^}/]+\}"
    for parent in [o for o in gets if re.fullmatch(item, o.path)] + [
        o for o in gets if o.path == prefix
    ]:
        reads = tuple(p for p in parent.permissions if p.endswith(".read"))
        if reads:
            return reads
    return ()


def nested_permissions(run: RunState) -> None:
    owner, staff = run.a.get("owner"), run.a.get("staff")
    if owner is None or staff is None or staff.role != "staff":
        run.report.notes.append(f"{NAME}: skipped, needs an owner and a staff member of A")
        return
    matrix = run.t.request("GET", MATRIX, cookies=owner.cookies)
    if matrix.status != 200 or not isinstance(matrix.body, dict):
        run.report.notes.append(f"{NAME}: skipped, the owner cannot read {MATRIX}")
        return
    catalogue = sorted(p["key"] for p in matrix.body.get("permissions", []))
    original = next(
        (r["permissions"] for r in matrix.body.get("roles", []) if r.get("role") == "staff"),
        None,
    )
    by_key = {op.key: op for op in run.spec.operations}
    groups: dict[tuple[str, ...], list[Operation]] = {}
    for op in run.tenant_ops():
        reads = parent_reads(op, by_key)
        if reads:
            groups.setdefault(reads, []).append(op)
    if not groups:
        run.report.notes.append(f"{NAME}: no nested admin route found")
        return
    try:
        for reads, ops in groups.items():
            granted = [p for p in catalogue if p not in reads]
            if not _set_staff(run, owner, granted):
                continue
            for op in ops:
                _probe(run, op, staff, reads)
    finally:
        if original:
            _set_staff(run, owner, original)


def _set_staff(run: RunState, owner: Any, permissions: list[str]) -> bool:
    put = run.t.request(
        "PUT", f"{MATRIX}/staff", cookies=owner.cookies, json_body={"permissions": permissions}
    )
    if put.status != 200:
        run.report.notes.append(f"{NAME}: could not set staff's permissions: {outcome(put)}")
        return False
    return True


def _probe(run: RunState, op: Operation, staff: Any, reads: tuple[str, ...]) -> None:
    req = run.requests.build(op, staff, run.style_for(op))
    sent = run.requests.send(staff, req)
    run.report.scenario_probes[NAME] += 1
    if sent.status != 403:
        run.finding(
            NOT_REFUSED,
            op.key,
            f"{NAME} (all permissions but {', '.join(reads)})",
            staff.label,
            f"served without the parent's read permission: {outcome(sent)}",
            sent,
        )

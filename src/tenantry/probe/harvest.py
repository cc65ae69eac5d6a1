"""What each side can see, and what counts as B's data.

Every identity reads every list endpoint, then every detail endpoint with the ids it
found; with a data adapter, both tenants' rows are read too. Markers — the values whose
appearance in an answer to A is a leak — are everything of B's except what A holds
legitimately: only *people* are shared between tenants (a member of both), so from A's
API view only user ids are subtracted, and A's record ids only when they come from A's
own rows, which no broken wall can contaminate.
"""

from __future__ import annotations

from tenantry.probe.bank import Bank, owned_ids, singular
from tenantry.probe.http import Actor
from tenantry.probe.requests import param_field, param_resource, path_resource
from tenantry.probe.spec import Operation, fill_path
from tenantry.probe.state import RunState

BY_ID_READS = 3


def harvest(run: RunState) -> None:
    for actor in [*run.a.values(), *run.b.values()]:
        _actor(run, actor)
    for key, bank in run.seen.banks.items():
        (run.seen.a if key.startswith("a.") else run.seen.b).merge(bank)
    if run.adapter is not None:
        _rows(run)


def again(run: RunState, actor: Actor) -> None:
    """Read everything ``actor`` can see once more (after it made records of its own)."""
    _actor(run, actor)
    run.seen.a.merge(run.seen.banks[actor.label])
    if run.adapter is not None:
        other = run.a.get(run.cfg.other_client)
        for _, row in run.adapter.rows(run.a_tenant_id):
            rows = Bank()
            rows.harvest(row, "row")
            run.seen.a_rows |= rows.uuids
            if other is not None:
                run.seen.other_client_owned |= owned_ids(row, other.user_id)


def _actor(run: RunState, actor: Actor) -> None:
    reads = [op for op in run.spec.operations if op.method == "GET" and op.scope != "system"]
    bank = run.seen.banks.setdefault(actor.label, Bank())
    for op in reads:
        if not op.path_params:
            _read(run, op, actor, bank, {})
    for op in reads:
        # A few records per by-id read (the first may be the one with no attachments).
        for n in range(BY_ID_READS):
            values = {}
            for p in op.path_params:
                picked = bank.pick(param_resource(op, p.name), param_field(p.name))
                if len(picked) <= n:
                    break
                values[p.name] = picked[n]
            else:
                if values:
                    _read(run, op, actor, bank, values)


def _rows(run: RunState) -> None:
    assert run.adapter is not None
    other = run.a.get(run.cfg.other_client)
    for table, row in run.adapter.rows(run.a_tenant_id):
        rows = Bank()
        rows.harvest(row, singular(table))
        rows.harvest_strings(row, needles(run))
        run.seen.a.merge(rows)
        run.seen.a_rows |= rows.uuids
        run.seen.a_row_strings |= rows.strings
        if other is not None:
            run.seen.other_client_owned |= owned_ids(row, other.user_id)
    for table, row in run.adapter.rows(run.b_tenant_id):
        rows = Bank()
        rows.harvest(row, singular(table))
        run.seen.b_rows |= rows.uuids
        run.seen.b.harvest(row, singular(table))
        run.seen.b.harvest_strings(row, needles(run))


def _read(
    run: RunState, op: Operation, actor: Actor, bank: Bank, path_values: dict[str, str]
) -> None:
    builder = run.requests.builder(lambda res, fld: None)
    query = {p.name: builder.value(p.schema, p.name) for p in op.query_params if p.required}
    host = run.requests.host_for(op, actor)
    sent = run.t.request(
        "GET",
        fill_path(op.path, path_values),
        cookies=actor.cookies,
        headers={"host": host} if host else None,
        params=query or None,
    )
    if sent.status != 200 or sent.body is None:
        return
    bank.harvest(sent.body, path_resource(op.path))
    bank.harvest_strings(sent.body, needles(run))
    other = run.a.get(run.cfg.other_client)
    if other is not None and actor is other:
        run.seen.other_client_owned |= owned_ids(sent.body, other.user_id)


def needles(run: RunState) -> list[str]:
    """Substrings that make a string B's: its slug and its tenant id."""
    return [run.cfg.b.slug, run.b_tenant_id]


def build_markers(run: RunState) -> None:
    """B's markers: what B holds minus what A legitimately holds too. With the data
    adapter, "what A holds" is read from A's own rows — never from A's API view, which a
    broken wall fills with B's rows (people and strings included), hiding the very leak
    it is there to show. Over HTTP, A's API view is all there is."""
    actors = {x.user_id for x in run.a.values()} | {run.a_tenant_id}
    if run.adapter is not None:
        a_known, a_strings = run.seen.a_rows | actors, run.seen.a_row_strings
    else:
        a_known, a_strings = run.seen.a.people() | actors, run.seen.a.strings
    # Over HTTP, every id in A's view is A's as far as the probe can tell.
    run.a_known = a_known if run.adapter is not None else a_known | run.seen.a.uuids
    markers = run.markers_b
    markers.add_uuids(run.seen.b.uuids - a_known)
    markers.add_uuids({run.b_tenant_id} | {x.user_id for x in run.b.values()} - a_known)
    markers.strings |= (run.seen.b.strings - a_strings) | {run.cfg.b.slug}
    markers.strings |= run.cfg.extra_markers
    other = run.a.get(run.cfg.other_client)
    if other is not None and run.cfg.client in run.a:
        run.markers_c2.add_uuids(run.seen.other_client_owned | {other.user_id})
    else:
        run.report.notes.append(
            "client-to-client check skipped: no second client of A "
            f"({run.cfg.other_client!r}) to attack"
        )

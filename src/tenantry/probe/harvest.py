"""What each side can see, and what counts as B's data.

Every identity reads every list endpoint, then every detail endpoint with the ids it
found; with a data adapter, both tenants' rows are read too. Markers — the values whose
appearance in an answer to A is a leak — are everything of B's except what A holds
legitimately: only *people* are shared between tenants (a member of both), so from A's
API view only user ids are subtracted, and A's record ids only when they come from A's
own rows, which no broken wall can contaminate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.probe.bank import Bank, owned_ids, singular
from tenantry.probe.http import Actor
from tenantry.probe.requests import param_field, param_resource, path_resource
from tenantry.probe.spec import Operation, fill_path

if TYPE_CHECKING:
    from tenantry.probe.engine import Engine


def harvest(engine: Engine) -> None:
    reads = [op for op in engine.spec.operations if op.method == "GET" and op.scope != "system"]
    for actor in [*engine.a.values(), *engine.b.values()]:
        bank = engine.banks.setdefault(actor.label, Bank())
        for op in reads:
            if not op.path_params:
                _read(engine, op, actor, bank, {})
        for op in reads:
            values = {}
            for p in op.path_params:
                picked = bank.pick(param_resource(op, p.name), param_field(p.name))
                if not picked:
                    break
                values[p.name] = picked[0]
            else:
                if values:
                    _read(engine, op, actor, bank, values)
    for key, bank in engine.banks.items():
        (engine.bank_a if key.startswith("a.") else engine.bank_b).merge(bank)
    if engine.adapter is not None:
        _rows(engine)


def _rows(engine: Engine) -> None:
    assert engine.adapter is not None
    other = engine.a.get(engine.cfg.other_client)
    for table, row in engine.adapter.rows(engine.a_tenant_id):
        rows = Bank()
        rows.harvest(row, singular(table))
        engine.bank_a.merge(rows)
        engine.a_rows |= rows.uuids
        if other is not None:
            engine.c2_owned |= owned_ids(row, other.user_id)
    for table, row in engine.adapter.rows(engine.b_tenant_id):
        engine.bank_b.harvest(row, singular(table))
        engine.bank_b.harvest_strings(row, needles(engine))


def _read(
    engine: Engine, op: Operation, actor: Actor, bank: Bank, path_values: dict[str, str]
) -> None:
    builder = engine.requests.builder(lambda res, fld: None)
    query = {p.name: builder.value(p.schema, p.name) for p in op.query_params if p.required}
    host = engine.requests.host_for(op, actor)
    sent = engine.t.request(
        "GET",
        fill_path(op.path, path_values),
        cookies=actor.cookies,
        headers={"host": host} if host else None,
        params=query or None,
    )
    if sent.status != 200 or sent.body is None:
        return
    bank.harvest(sent.body, path_resource(op.path))
    bank.harvest_strings(sent.body, needles(engine))
    other = engine.a.get(engine.cfg.other_client)
    if other is not None and actor is other:
        engine.c2_owned |= owned_ids(sent.body, other.user_id)


def needles(engine: Engine) -> list[str]:
    """Substrings that make a string B's: its slug and its tenant id."""
    return [engine.cfg.b.slug, engine.b_tenant_id]


def build_markers(engine: Engine) -> None:
    a_known = engine.bank_a.people() | {x.user_id for x in engine.a.values()} | engine.a_rows
    a_known.add(engine.a_tenant_id)
    markers = engine.markers_b
    markers.add_uuids(engine.bank_b.uuids - a_known)
    markers.add_uuids({engine.b_tenant_id} | {x.user_id for x in engine.b.values()} - a_known)
    markers.strings |= (engine.bank_b.strings - engine.bank_a.strings) | {engine.cfg.b.slug}
    markers.strings |= engine.cfg.extra_markers
    other = engine.a.get(engine.cfg.other_client)
    if other is not None and engine.cfg.client in engine.a:
        engine.markers_c2.add_uuids(engine.c2_owned | {other.user_id})
    else:
        engine.report.notes.append(
            "client-to-client check skipped: no second client of A "
            f"({engine.cfg.other_client!r}) to attack"
        )

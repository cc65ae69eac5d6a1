"""Reaching an operation's success path: fresh records of A in the right state.

A by-id operation's baseline built from harvested ids often cannot succeed: the booking
is already cancelled (409), the record was a read-only one (404), a deletion would
destroy rows later probes need. An attack that only ever meets those answers never
reaches the code that would touch B's record, so for such operations the engine makes
what it needs, as the attacking member, through the API itself:

1. a *fresh* record from the operation's *creator* — the POST whose path names the same
   resource (``POST /api/admin/bookings`` for ``/api/admin/bookings/{booking_id}/…``,
   ``POST …/expenses/{expense_id}/attachments`` for ``/api/admin/attachments/{id}``);
2. if the operation still refuses (a state it cannot leave), a fresh record moved first
   by one *sibling* operation (``confirm`` before ``complete``, ``send`` before
   ``mark-paid``);
3. values of an enumerated field or path parameter other than the first
   (``PUT /permissions/{role}`` for an editable role, a status the record can move to).

The first 2xx wins; the request that got it is the baseline the slot probes start from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from tenantry.probe.http import Actor, Sent
from tenantry.probe.requests import Req, param_resource, path_resource
from tenantry.probe.spec import Operation
from tenantry.probe.state import RunState
from tenantry.probe.values import STYLES, Slot, set_in

MAX_ATTEMPTS = 12
AMOUNT_WORDS = ("amount", "cents", "price", "total")
LARGE = 10_000_000

# Records made through another door than a POST on their own collection: the resource
# (as ``path_resource`` names it) → the operation that makes one. A contact submission
# is a message sent to A's public form (on A's host), read and deleted in A's inbox.
MADE_ELSEWHERE = {
    str(path_resource("/api/admin/contact-submissions")): "POST /api/public/contact",
}

Send = Callable[[Operation, Actor, Req, str], Sent]


def ok(sent: Sent) -> bool:
    return 200 <= sent.status < 300


class SuccessPath:
    def __init__(self, run: RunState, send: Send) -> None:
        self.run = run
        self.send = send

    def attempt(self, op: Operation, actor: Actor, req: Req) -> tuple[Req, Sent, str] | None:
        """A variant of ``req`` that ``op`` answers with 2xx, and how it was made."""
        for tries, (trial, how) in enumerate(self._trials(op, actor, req), start=1):
            sent = self.send(op, actor, trial, "baseline")
            if ok(sent):
                return trial, sent, how
            if tries >= MAX_ATTEMPTS:
                break
        return None

    def _trials(self, op: Operation, actor: Actor, req: Req) -> Iterator[tuple[Req, str]]:
        for p in op.path_params:  # an enumerated path parameter: its other values
            for value in (p.schema.get("enum") or [])[1:]:
                yield _with_path(req, p.name, str(value)), f"{p.name}={value}"
        for p in reversed(op.path_params):
            creator = self.creator(op, p.name, actor)
            if creator is None:
                continue
            plans = [(prep, False) for prep in [None, *self.siblings(op, p.name)]]
            for prep, large in [*plans, (None, True)]:
                fresh = self.fresh(creator, actor, large=large)
                if fresh is None:
                    return
                if prep is not None:
                    moved = self.send(prep, actor, self._on(prep, actor, p.name, fresh), "prepare")
                    if not ok(moved):
                        continue
                base = _with_path(req, p.name, fresh)
                how = f"fresh record from {creator.key}" + (f", then {prep.key}" if prep else "")
                how += " (large amounts)" if large else ""
                yield base, how
                for variant, field_how in _enum_variants(self.run, op, base):
                    yield variant, f"{how}, {field_how}"
            return

    # ------------------------------------------------------------------ creators

    def creator(self, op: Operation, name: str, actor: Actor) -> Operation | None:
        """The POST that makes the kind of record ``{name}`` names, callable by ``actor``."""
        prefix = op.path[: op.path.index("{" + name + "}")].rstrip("/")
        # ``{request_id}`` after ``/service-requests``: the collection names it better.
        resources = {param_resource(op, name), path_resource(prefix)} - {None}
        for resource in resources:
            door = MADE_ELSEWHERE.get(resource or "")
            made = next((o for o in self.run.spec.operations if o.key == door), None)
            if made is not None and made.allows(actor.role):
                return made
        found = [
            o
            for o in self.run.spec.operations
            if o.method == "POST"
            and o.scope == op.scope
            and o.allows(actor.role)
            and not o.path.endswith("}")
            and path_resource(o.path) in resources
        ]
        ranked = [o for o in found if o.path == prefix]
        ranked += sorted(found, key=lambda o: (len(o.path_params), o.path))
        return ranked[0] if ranked else None

    def siblings(self, op: Operation, name: str) -> list[Operation]:
        """Other state-changing operations on the same record (``…/{id}/confirm``)."""
        stem = op.path[: op.path.index("{" + name + "}") + len(name) + 2]
        return [
            o
            for o in self.run.spec.operations
            if o.method in ("POST", "PATCH", "PUT")
            and o.key != op.key
            and o.path.startswith(stem)
            and len(o.path_params) == len(op.path_params)
        ][:4]

    def fresh(self, creator: Operation, actor: Actor, *, large: bool = False) -> str | None:
        """A new record made by ``creator`` as ``actor``: its id, or None. ``large``:
        amounts far above the usual (over an auto-approval threshold, say)."""
        styles = [self.run.style_for(creator), *STYLES[:2]]
        if large:
            styles = [replace(s, overrides=self._large_amounts(creator)) for s in styles]
        for style in dict.fromkeys(styles):
            req = self.run.requests.build(creator, actor, style)
            sent = self.send(creator, actor, req, "prepare")
            if ok(sent):
                return created_id(sent.body, creator)
            if sent.status not in (409, 422):  # a clash (slot taken): the next try differs
                return None
        return None

    def _large_amounts(self, creator: Operation) -> tuple[tuple[str, Any], ...]:
        props = self.run.spec.resolve(creator.body_schema).get("properties", {})
        out = []
        for name, sub in props.items():
            schema = self.run.spec.resolve(sub)
            if schema.get("type") == "integer" and any(w in name for w in AMOUNT_WORDS):
                out.append((name, min(int(schema.get("maximum", LARGE)), LARGE)))
        return tuple(out)

    def _on(self, op: Operation, actor: Actor, name: str, record: str) -> Req:
        return _with_path(self.run.requests.build(op, actor, self.run.style_for(op)), name, record)


def _with_path(req: Req, name: str, value: str) -> Req:
    return req.with_slot(Slot("path", name, None), value)


def created_id(body: Any, creator: Operation) -> str | None:
    """The new record's id in a creation answer: ``id`` (or ``<resource>_id``,
    ``user_id``) at the top, else in a nested object (``{"member": {"user_id": …}}``)."""
    if not isinstance(body, dict):
        return None
    resource = path_resource(creator.path) or ""
    for obj in [body, *(v for v in body.values() if isinstance(v, dict))]:
        for key in ("id", f"{resource}_id", "user_id"):
            value = obj.get(key)
            if isinstance(value, str):
                return value
    return None


def _enum_variants(run: RunState, op: Operation, req: Req) -> Iterator[tuple[Req, str]]:
    """The body with one enumerated top-level field set to each of its other values."""
    if not isinstance(req.body, dict) or op.body_schema is None:
        return
    props = run.spec.resolve(op.body_schema).get("properties", {})
    for name in req.body:
        options = run.spec.resolve(props.get(name, {})).get("enum") or []
        for value in options[1:6]:
            yield _with_body(req, name, value), f"{name}={value}"


def _with_body(req: Req, name: str, value: Any) -> Req:
    return replace(req, body=set_in(req.body, (name,), value))

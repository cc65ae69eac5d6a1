"""Concrete requests for an operation, built as a member of A, and sending them.

A request is built from the operation's schema with the member's *own* ids in every
slot — its own records first (a client's own booking), then any of A's — and lists the
slots a foreign id can be put in. In a mutating path, the attackers' own user ids are
never used (a probe must not remove or demote the identities the run depends on).
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

from tenantry.probe.bank import Bank, canonical, resource_of_field
from tenantry.probe.http import Actor, Sent, Transport
from tenantry.probe.spec import Operation, Spec, fill_path, static_segments
from tenantry.probe.values import (
    STYLES,
    Builder,
    IdPicker,
    Slot,
    Style,
    body_slots,
    param_is_slot,
    set_in,
)

# Static segments that name no resource.
_NEUTRAL_SEGMENTS = frozenset({"api", "admin", "portal", "public", "me"})


@dataclass
class Req:
    """One concrete request of an operation."""

    op: Operation
    path_values: dict[str, str]
    query: dict[str, Any]
    body: Any
    slots: list[Slot]
    host: str | None = None

    def with_slot(self, slot: Slot, value: str) -> Req:
        new = replace(self, path_values=dict(self.path_values), query=dict(self.query))
        if slot.location == "path":
            new.path_values[slot.name] = value
        elif slot.location == "query":
            new.query[slot.name] = value
        else:
            new.body = set_in(self.body, slot.where, [value] if slot.many else value)
        return new

    @property
    def url(self) -> str:
        return fill_path(self.op.path, self.path_values)


@dataclass(eq=False)
class RequestFactory:
    """Builds requests from the schema and A's harvested ids; sends them."""

    spec: Spec
    t: Transport
    _: KW_ONLY
    # The dicts and sets are the engine's own, filled in as the run goes.
    members: dict[str, Actor]
    banks: dict[str, Bank]
    tenant_bank: Bank
    protected: set[str]
    rng: random.Random

    def builder(self, pick: IdPicker, style: Style = STYLES[0]) -> Builder:
        return Builder(self.spec.resolve, pick, style, rng=self.rng)

    def own_pick(self, actor: Actor, *, avoid: set[str]) -> IdPicker:
        own = self.banks.get(actor.label, Bank())

        def pick(resource: str | None, fld: str) -> str | None:
            if resource is not None and resource.startswith("user:"):
                return self._member_by_role(actor, resource.split(":", 1)[1], avoid)
            if resource == "tenant":
                return (actor.tenant_slug if fld == "slug" else actor.tenant_id) or None
            if resource == "user" and actor.role == "client" and fld == "id":
                return actor.user_id
            for bank in (own, self.tenant_bank):
                found = bank.pick(resource, fld, exclude=avoid)
                if found:
                    return found[0]
            return None

        return pick

    def _member_by_role(self, actor: Actor, role: str, avoid: set[str]) -> str | None:
        if role == actor.role == "client":
            return actor.user_id  # a client names itself
        fits = [x.user_id for x in self.members.values() if x.role == role]
        if role == "staff":
            fits += [x.user_id for x in self.members.values() if x.role in ("admin", "owner")]
        return next((u for u in fits if u not in avoid), None)

    def build(self, op: Operation, actor: Actor, style: Style) -> Req:
        body_pick = self.own_pick(actor, avoid=set())
        path_pick = self.own_pick(actor, avoid=self.protected if op.mutating else set())
        builder = self.builder(body_pick, style)
        path_values: dict[str, str] = {}
        slots: list[Slot] = []
        for p in op.path_params:
            resource, fld = param_resource(op, p.name), param_field(p.name)
            value = path_pick(resource, fld)
            if value is None:
                value = str(builder.value(p.schema, p.name, resource))
            path_values[p.name] = value
            slots.append(Slot("path", p.name, resource, fld))
        query: dict[str, Any] = {}
        for p in op.query_params:
            if p.required:
                query[p.name] = builder.value(p.schema, p.name)
            if param_is_slot(p.schema, p.name, self.spec.resolve):
                resource = resource_of_field(p.name) or path_resource(op.path)
                slots.append(Slot("query", p.name, resource))
            elif p.name in ("tenant", "tenant_slug", "tenant_id"):
                kind = "tenant_id" if p.name == "tenant_id" else "tenant_slug"
                slots.append(Slot("query", p.name, "tenant", "id", kind=kind))
        body: Any = None
        if op.body_schema is not None and op.body_kind in ("json", "multipart", "form"):
            body = builder.value(op.body_schema, "", path_resource(op.path))
            slots += body_slots(op.body_schema, body, self.spec.resolve)
        return Req(op, path_values, query, body, slots, self.host_for(op, actor))

    def host_for(self, op: Operation, actor: Actor) -> str | None:
        """Public per-tenant routes are asked on the actor's tenant's host."""
        if op.scope == "public" and actor.tenant_slug:
            return self.t.tenant_host(actor.tenant_slug)
        return None

    def send(
        self,
        actor: Actor,
        req: Req,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent:
        hdrs = dict(headers or {})
        if req.host and "host" not in hdrs:
            hdrs["host"] = req.host
        files = data = None
        json_body = None
        if req.op.body_kind == "multipart" and isinstance(req.body, dict):
            files, data = self._multipart(req)
        elif req.op.body_kind == "form" and isinstance(req.body, dict):
            data = {k: str(v) for k, v in req.body.items()}
        else:
            json_body = req.body
        return self.t.request(
            req.op.method,
            req.url,
            cookies=actor.cookies if cookies is None else cookies,
            headers=hdrs or None,
            params=req.query or None,
            json_body=json_body,
            files=files,
            data=data,
        )

    def _multipart(self, req: Req) -> tuple[dict[str, Any], dict[str, Any]]:
        props = self.spec.resolve(req.op.body_schema).get("properties", {})
        files: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for name, value in req.body.items():
            sub = self.spec.resolve(props.get(name, {}))
            items = self.spec.resolve(sub.get("items", {})) if sub.get("type") == "array" else sub
            if items.get("format") == "binary" or "contentMediaType" in items:
                files[name] = ("probe.txt", b"isolation probe\n", "text/plain")
            elif isinstance(value, list):
                data[name] = [_form_value(v) for v in value]
            else:
                data[name] = _form_value(value)
        return files, data


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else str(value)


def path_resource(path: str) -> str | None:
    """The resource a path is about: its last meaningful static segment."""
    for seg in reversed(static_segments(path)):
        if seg not in _NEUTRAL_SEGMENTS:
            return canonical(seg)
    return None


def param_resource(op: Operation, name: str) -> str | None:
    """``{booking_id}`` → booking; ``{id}``/``{slug}`` → the segment just before it."""
    direct = resource_of_field(name)
    if direct is not None:
        return direct
    parts = op.path.split("/")
    for i, part in enumerate(parts):
        if part == "{" + name + "}":
            for prev in reversed(parts[:i]):
                if prev and not prev.startswith("{"):
                    return canonical(prev)
    return None


def param_field(name: str) -> str:
    return "id" if name == "id" or name.endswith("_id") else name


def control_value(value: str) -> str:
    """A value of the same shape as ``value`` that names nothing."""
    try:
        uuid.UUID(value)
    except ValueError:
        return f"probe-{secrets.token_hex(5)}"
    return str(uuid.uuid4())

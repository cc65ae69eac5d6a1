"""The attack engine: every route, every method, as members of tenant A, against B.

A run:

1. reads ``/openapi.json`` (and, in-process, cross-checks it against the app's route
   table so a route hidden from the document is listed, not silently missed);
2. signs in every identity of A and B, and *harvests* what each can see: every list
   endpoint, then every detail endpoint with the ids found — plus B's rows from the
   database when a data adapter is given;
3. sweeps every operation (reads, then writes, deletions last) as each member of A:
   a valid request with A's own ids (the baseline), then each slot — path, query and
   body fields that name a record — filled with B's ids, each paired with a *control*
   that puts a random uuid in the same slot; a client of A also tries another client's
   ids. Each tenant-scoped route is then hit with forged and mixed credentials (B's
   host, spoofed tenant headers, B's ``tenant_sig``, tampered, truncated, expired and
   removed-key signatures...);
4. ends with the scenarios that kill sessions: replay after ``logout-all`` and after
   the membership is removed, and signing in to B with A's credentials.

Every response is checked for B's data; after every mutating probe B's rows are
compared with a digest taken before (in-process), and after every mutating route B's
own API view is re-read and compared (always).
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from tenantry.isolation import signing
from tenantry.isolation.attack import exemptions
from tenantry.isolation.attack.bank import (
    Bank,
    canonical,
    owned_ids,
    resource_of_field,
    singular,
)
from tenantry.isolation.attack.data import DataAdapter
from tenantry.isolation.attack.http import (
    SIG_COOKIE,
    Actor,
    Credentials,
    LoginFailed,
    Sent,
    Transport,
)
from tenantry.isolation.attack.oracle import (
    LOST_SESSION_CODES,
    Markers,
    describe,
    outcome,
    reached_handler,
    refused,
    same_outcome,
)
from tenantry.isolation.attack.report import (
    DISTINGUISHABLE,
    IDENTITY_LOST,
    LEAK_BODY,
    LEAK_CHANGED,
    NOT_REFUSED,
    UNEXERCISED,
    Finding,
    Report,
)
from tenantry.isolation.attack.spec import (
    Operation,
    Param,
    Spec,
    fill_path,
    path_params,
    static_segments,
)
from tenantry.isolation.attack.values import (
    STYLES,
    Builder,
    Slot,
    Style,
    body_slots,
    param_is_slot,
    set_in,
    variants,
)

ATTACKER_ROLES = ("owner", "admin", "staff", "client")
MAX_BASELINE_TRIES = 14


@dataclass
class Side:
    """One tenant under test: its slug and identities by label (``owner``, ``client``,
    ``client2``...). A needs at least one; B needs an ``owner`` (its view is the
    reference for "did B change"), and a ``client`` if it has portal data."""

    slug: str
    members: dict[str, Credentials]


@dataclass
class Config:
    a: Side
    b: Side
    # In-process only: the app's signing keys, so expired and forged-but-valid
    # signatures can be made. Over HTTP those probes are listed as skipped.
    signing_keys: list[bytes] | None = None
    sig_max_age_s: int = 14 * 24 * 3600
    base_domain: str = "localhost"
    ids_per_slot: int = 2
    # (method, path, scope) of every API route of the app, to cross-check the document.
    route_table: list[tuple[str, str, str | None]] | None = None
    # An extra A member whose membership is removed at the end (needs the adapter).
    leaver: Credentials | None = None
    # Whose sessions ``logout-all`` kills at the end (default: A's staff, else any).
    logout_victim: str | None = None
    extra_markers: set[str] = field(default_factory=set)
    # Labels (in ``a.members``) of the client who attacks and of the other client of A
    # whose records it must not reach; the other client never attacks.
    client: str = "client"
    other_client: str = "client2"
    # The credential attacks per route and the closing scenarios (on by default).
    credential_attacks: bool = True
    scenarios: bool = True
    # Which of A's identities try to sign in to B (each attempt costs a password hash).
    login_scenario_roles: tuple[str, ...] = ("owner", "client")
    # Seed of the request builder (dates, sizes): the same seed builds the same requests.
    seed: int = 5
    # Probe only the routes (``"METHOD /path"``) this accepts; None: every route.
    select: Callable[[str], bool] | None = None
    progress: Callable[[str], None] | None = None


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


class Engine:
    def __init__(
        self,
        client: httpx.Client,
        config: Config,
        *,
        adapter: DataAdapter | None = None,
        target: str = "in-process app",
    ) -> None:
        self.t = Transport(client, base_domain=config.base_domain)
        self.cfg = config
        self.adapter = adapter
        self.report = Report(target)
        self.a: dict[str, Actor] = {}
        self.b: dict[str, Actor] = {}
        self.banks: dict[str, Bank] = {}
        self.bank_a = Bank()
        self.bank_b = Bank()
        self.markers_b = Markers("tenant B")
        self.markers_c2 = Markers("another client of A")
        self.protected: set[str] = set()
        self._a_rows: set[str] = set()  # uuids in A's rows (data adapter only)
        self._c2_owned: set[str] = set()
        self.spec: Spec | None = None
        self._digest: dict[str, str] | None = None
        self._api_view: dict[str, str] = {}
        self._view_plan: list[tuple[Actor, Operation]] = []
        self._styles: dict[str, Style] = {}
        self._reads_checked = False
        self.rng = random.Random(config.seed)  # noqa: S311 - test data, not secrets
        self._started = 0.0

    # ================================================================== run

    def run(self) -> Report:
        self._started = time.monotonic()
        self.spec = Spec(self._openapi())
        self._cross_check(self.spec)
        self._sign_in()
        self._harvest()
        self._markers()
        self._take_reference()
        for op in self.spec.operations:
            if self.cfg.select is None or self.cfg.select(op.key):
                self._sweep(op)
        self._scenarios()
        self._check_api_view("end of run")
        self._finish()
        return self.report

    def _say(self, message: str) -> None:
        if self.cfg.progress:
            self.cfg.progress(f"[{time.monotonic() - self._started:6.1f}s] {message}")

    def _openapi(self) -> dict[str, Any]:
        sent = self.t.request("GET", "/openapi.json")
        if sent.status != 200 or not isinstance(sent.body, dict):
            raise RuntimeError(f"cannot read /openapi.json: {sent.status}")
        return sent.body

    def _cross_check(self, spec: Spec) -> None:
        if self.cfg.route_table is None:
            self.report.notes.append(
                "no route table given (over HTTP): routes hidden from the OpenAPI document "
                "cannot be seen, only documented operations are probed"
            )
            return
        documented = {op.key for op in spec.operations}
        for method, path, scope in self.cfg.route_table:
            key = f"{method} {path}"
            if method in ("HEAD", "OPTIONS") or key in documented:
                continue
            if self.cfg.select is not None and not self.cfg.select(key):
                continue
            # Hidden from the document (``include_in_schema=False``, e.g. HTML pages):
            # probed all the same, with the parameters its path template names.
            params = [Param(n, "path", True, {"type": "string"}) for n in path_params(path)]
            op = Operation(method, path, scope, (), params)
            op.extra["undocumented"] = True
            spec.operations.append(op)
            self.report.notes.append(
                f"{key}: not in the OpenAPI document; probed from the route table"
            )

    # ================================================================== identities

    def _sign_in(self) -> None:
        for prefix, side, actors in (("a", self.cfg.a, self.a), ("b", self.cfg.b, self.b)):
            for label, creds in side.members.items():
                actors[label] = self.t.login(replace(creds, label=f"{prefix}.{label}"))
        self.protected = {x.user_id for x in self.a.values()}
        if "owner" not in self.b:
            raise ValueError("tenant B needs an owner identity (its view is the reference)")
        self._say(f"signed in {len(self.a)} identities of A and {len(self.b)} of B")

    @property
    def attackers(self) -> list[Actor]:
        return [
            x
            for label, x in self.a.items()
            if x.role in ATTACKER_ROLES and label != self.cfg.other_client
        ]

    def _is_client1(self, actor: Actor) -> bool:
        return actor.label == f"a.{self.cfg.client}" and actor.role == "client"

    # ================================================================== harvest

    def _harvest(self) -> None:
        assert self.spec is not None
        reads = [op for op in self.spec.operations if op.method == "GET" and op.scope != "system"]
        everyone = [*self.a.values(), *self.b.values()]
        for actor in everyone:
            bank = self.banks.setdefault(actor.label, Bank())
            for op in reads:
                if op.path_params:
                    continue
                self._harvest_one(op, actor, bank, {})
            for op in reads:
                if not op.path_params:
                    continue
                values = {}
                for p in op.path_params:
                    picked = bank.pick(_param_resource(op, p.name), _param_field(p.name))
                    if not picked:
                        break
                    values[p.name] = picked[0]
                else:
                    self._harvest_one(op, actor, bank, values)
        for key, bank in self.banks.items():
            (self.bank_a if key.startswith("a.") else self.bank_b).merge(bank)
        if self.adapter is not None:
            a_id = next(iter(self.a.values())).tenant_id
            b_id = self.b["owner"].tenant_id
            other = self.a.get(self.cfg.other_client)
            for table, row in self.adapter.rows(a_id):
                rows = Bank()
                rows.harvest(row, singular(table))
                self.bank_a.merge(rows)
                self._a_rows |= rows.uuids
                if other is not None:
                    self._c2_owned |= owned_ids(row, other.user_id)
            for table, row in self.adapter.rows(b_id):
                self.bank_b.harvest(row, singular(table))
                self.bank_b.harvest_strings(row, self._b_needles())
        self._say(
            f"harvested {len(self.bank_a.uuids)} ids of A and {len(self.bank_b.uuids)} of B "
            f"({self.t.sent} requests so far)"
        )

    def _harvest_one(
        self, op: Operation, actor: Actor, bank: Bank, path_values: dict[str, str]
    ) -> None:
        builder = self._builder(lambda res, fld: None)
        query = {p.name: builder.value(p.schema, p.name) for p in op.query_params if p.required}
        host = self._host_for(op, actor)
        sent = self.t.request(
            "GET",
            fill_path(op.path, path_values),
            cookies=actor.cookies,
            headers={"host": host} if host else None,
            params=query or None,
        )
        if sent.status == 200 and sent.body is not None:
            bank.harvest(sent.body, _path_resource(op.path))
            bank.harvest_strings(sent.body, self._b_needles())
            other = self.a.get(self.cfg.other_client)
            if other is not None and actor is other:
                self._c2_owned |= owned_ids(sent.body, other.user_id)

    def _b_needles(self) -> list[str]:
        owner = self.b.get("owner")
        return [self.cfg.b.slug, owner.tenant_id if owner else ""]

    def _markers(self) -> None:
        """What counts as B's data: every uuid B's harvest and rows hold, except what
        A legitimately holds too. Only *people* are shared between tenants (a member of
        both); a record id seen by both sides is never "A's too" — so from A's API view
        only user ids are subtracted, and A's record ids only when they come from A's
        own rows (database adapter), which no broken wall can contaminate."""
        a_users = self.bank_a.people()
        a_known = a_users | {x.user_id for x in self.a.values()} | self._a_rows
        a_known.add(next(iter(self.a.values())).tenant_id)
        b_tenant = self.b["owner"].tenant_id
        self.markers_b.add_uuids(self.bank_b.uuids - a_known)
        self.markers_b.add_uuids({b_tenant} | {x.user_id for x in self.b.values()} - a_known)
        self.markers_b.strings |= (self.bank_b.strings - self.bank_a.strings) | {self.cfg.b.slug}
        self.markers_b.strings |= self.cfg.extra_markers
        other = self.a.get(self.cfg.other_client)
        if other is not None and self.cfg.client in self.a:
            self.markers_c2.add_uuids(self._c2_owned | {other.user_id})
        else:
            self.report.notes.append(
                "client-to-client check skipped: no second client of A "
                f"({self.cfg.other_client!r}) to attack"
            )
        self._say(
            f"markers: {len(self.markers_b.uuids)} ids and {len(self.markers_b.strings)} "
            f"strings of B; {len(self.markers_c2.uuids)} ids of A's other client"
        )

    # ================================================================== change detection

    def _take_reference(self) -> None:
        assert self.spec is not None
        owner, client = self.b["owner"], self.b.get("client")
        candidates: list[tuple[Actor, Operation]] = []
        for op in self.spec.operations:
            if op.method != "GET" or op.path_params or any(p.required for p in op.query_params):
                continue
            if op.scope == "tenant":
                candidates += [(owner, op)] + ([(client, op)] if client else [])
            elif op.scope == "public":
                candidates.append((owner, op))
        first = {self._view_key(x, op): self._read_view(x, op) for x, op in candidates}
        second = {self._view_key(x, op): self._read_view(x, op) for x, op in candidates}
        stable = {k for k in first if first[k] is not None and first[k] == second[k]}
        self._view_plan = [(x, op) for x, op in candidates if self._view_key(x, op) in stable]
        self._api_view = {k: v for k, v in second.items() if k in stable and v is not None}
        unstable = sorted(k for k in first if k not in stable and first[k] is not None)
        if unstable:
            self.report.notes.append(
                "B's API view leaves out reads that change between two identical calls: "
                + ", ".join(unstable)
            )
        self._refresh_digest()
        self._say(f"B's reference view: {len(self._api_view)} reads")

    def _view_key(self, actor: Actor, op: Operation) -> str:
        return f"{op.key} as b.{actor.creds.label.rsplit('.', 1)[-1]}"

    def _read_view(self, actor: Actor, op: Operation) -> str | None:
        host = self.t.tenant_host(self.cfg.b.slug) if op.scope == "public" else None
        sent = self.t.request(
            "GET", op.path, cookies=actor.cookies, headers={"host": host} if host else None
        )
        if sent.status != 200:
            return None
        return sent.text or repr(_canonical_json(sent.body))

    def _refresh_digest(self) -> None:
        if self.adapter is not None:
            self._digest = self.adapter.digest(self.b["owner"].tenant_id)

    def _check_digest(self, route: str, probe: str, actor: str, sent: Sent) -> None:
        if self.adapter is None or self._digest is None:
            return
        now = self.adapter.digest(self.b["owner"].tenant_id)
        if now != self._digest:
            changed = sorted(t for t in now if now.get(t) != self._digest.get(t))
            self._finding(
                LEAK_CHANGED,
                route,
                probe,
                actor,
                f"B's rows changed in {', '.join(changed)}",
                sent,
            )
            self._digest = now

    def _check_api_view(self, route: str) -> None:
        changed = []
        for actor, op in self._view_plan:
            key = self._view_key(actor, op)
            now = self._read_view(actor, op)
            if now is not None and now != self._api_view.get(key):
                changed.append(key)
                self._api_view[key] = now
        if changed:
            self._finding(
                LEAK_CHANGED,
                route,
                "B's own API reads",
                "b.owner",
                "changed: " + ", ".join(changed),
            )
        # B's own reads must not count against the next probe.
        self._refresh_digest()

    # ================================================================== the sweep

    def _sweep(self, op: Operation) -> None:
        stats = self.report.route(op.key, op.scope)
        reason = exemptions.skip_reason(op.key)
        if reason is not None:
            stats.skipped = reason
            return
        stats.exempt = exemptions.exempt_reason(op.key, op.scope)
        before = stats.probes
        if op.mutating and not self._reads_checked:
            # Reads must not change anything either: B's view once, after all of them.
            self._check_api_view("every read route (GET)")
            self._reads_checked = True
        if op.scope == "tenant":
            self._sweep_tenant(op)
        else:
            self._sweep_open(op)
        if op.mutating:
            self._check_api_view(op.key)
        self._say(f"{op.key}: {stats.probes - before} probes")

    def _sweep_tenant(self, op: Operation) -> None:
        allowed = [x for x in self.attackers if op.allows(x.role)]
        others = [x for x in self.attackers if not op.allows(x.role)]
        lead: tuple[Actor, Req] | None = None
        for actor in allowed:
            req = self._baseline(op, actor)
            if req is None:
                continue
            lead = lead or (actor, req)
            self._slot_probes(op, actor, req)
        for actor in others:
            req = self._request(op, actor, STYLES[0])
            self._all_foreign(op, actor, req)
        if lead is None and self.attackers:
            lead = (self.attackers[0], self._request(op, self.attackers[0], STYLES[0]))
        if lead is not None and self.cfg.credential_attacks:
            self._credential_attacks(op, *lead)

    def _sweep_open(self, op: Operation) -> None:
        """Public and system routes: anonymous and as A's members, on A's host."""
        anonymous = Actor(Credentials("anonymous", "", "", self.cfg.a.slug))
        anonymous.tenant_slug = self.cfg.a.slug
        actors = [anonymous] + [x for x in self.attackers if x.role in ("owner", "client")]
        for actor in actors:
            if op.scope == "system":
                self._all_foreign(op, actor, self._request(op, actor, STYLES[0]))
                continue
            req = self._baseline(op, actor)
            if req is not None:
                self._slot_probes(op, actor, req)
        if op.scope == "public" and actors:
            req = self._request(op, actors[0], STYLES[0])
            self._probe(op, actors[0], req, "spoofed-tenant-headers", headers=self._spoof_headers())

    # ------------------------------------------------------------------ requests

    def _builder(
        self, pick: Callable[[str | None, str], str | None], style: Style = STYLES[0]
    ) -> Builder:
        assert self.spec is not None
        return Builder(self.spec.resolve, pick, style, rng=self.rng)

    def _own_pick(
        self, actor: Actor, *, avoid: set[str]
    ) -> Callable[[str | None, str], str | None]:
        own = self.banks.get(f"a.{_label(actor)}", Bank())

        def pick(resource: str | None, fld: str) -> str | None:
            if resource is not None and resource.startswith("user:"):
                # A member of A by role (never one of the attackers in a path: avoid).
                role = resource.split(":", 1)[1]
                if role == actor.role == "client":
                    return actor.user_id  # a client names itself
                fits = [x.user_id for x in self.a.values() if x.role == role]
                if role == "staff":
                    fits += [x.user_id for x in self.a.values() if x.role in ("admin", "owner")]
                return next((u for u in fits if u not in avoid), None)
            if resource == "tenant":
                return (actor.tenant_slug if fld == "slug" else actor.tenant_id) or None
            if resource == "user" and actor.role == "client" and fld == "id":
                return actor.user_id
            for bank in (own, self.bank_a):
                found = bank.pick(resource, fld, exclude=avoid)
                if found:
                    return found[0]
            return None

        return pick

    def _request(self, op: Operation, actor: Actor, style: Style) -> Req:
        assert self.spec is not None
        spec = self.spec
        body_pick = self._own_pick(actor, avoid=set())
        path_pick = self._own_pick(actor, avoid=self.protected if op.mutating else set())
        builder = self._builder(body_pick, style)
        path_values: dict[str, str] = {}
        slots: list[Slot] = []
        for p in op.path_params:
            resource, fld = _param_resource(op, p.name), _param_field(p.name)
            value = path_pick(resource, fld)
            if value is None:
                value = str(builder.value(p.schema, p.name, resource))
            path_values[p.name] = value
            slots.append(Slot("path", p.name, resource, fld))
        query: dict[str, Any] = {}
        for p in op.query_params:
            is_slot = param_is_slot(p.schema, p.name, spec.resolve)
            if p.required:
                query[p.name] = builder.value(p.schema, p.name)
            if is_slot:
                slots.append(
                    Slot("query", p.name, resource_of_field(p.name) or _path_resource(op.path))
                )
            elif p.name in ("tenant", "tenant_slug", "tenant_id"):
                kind = "tenant_id" if p.name == "tenant_id" else "tenant_slug"
                slots.append(Slot("query", p.name, "tenant", "id", kind=kind))
        body: Any = None
        if op.body_schema is not None and op.body_kind in ("json", "multipart", "form"):
            body = builder.value(op.body_schema, "", _path_resource(op.path))
            slots += body_slots(op.body_schema, body, spec.resolve)
        host = self._host_for(op, actor)
        return Req(op, path_values, query, body, slots, host)

    def _host_for(self, op: Operation, actor: Actor) -> str | None:
        """Public per-tenant routes are asked on the actor's tenant's host."""
        if op.scope == "public" and actor.tenant_slug:
            return self.t.tenant_host(actor.tenant_slug)
        return None

    def _baseline(self, op: Operation, actor: Actor) -> Req | None:
        """A request that passes validation, with the actor's own ids; sent (except for
        deletions, which would destroy the rows later probes need).

        Body styles are tried in turn — every property, only the required ones, then
        one optional field added or dropped, past dates — and a 422 that names a field
        is retried with a value of that name seen in the API's own answers."""
        stats = self.report.route(op.key, op.scope)
        known = self._styles.get(op.key)
        queue: list[Style] = [known] if known else list(STYLES[:2])
        if not (op.body_schema or op.query_params):
            queue = queue[:1]
        tried: list[Style] = []
        errors: list[str] = []
        first: Req | None = None
        extended = known is not None  # a style that worked for another member: no variants
        while queue and len(tried) < MAX_BASELINE_TRIES:
            style = queue.pop(0)
            if style in tried:
                continue
            tried.append(style)
            req = self._request(op, actor, style)
            first = first or req
            if op.method == "DELETE":
                stats.baseline = (
                    stats.baseline or "not sent (deletion): probes use foreign ids only"
                )
                return req
            sent = self._probe(op, actor, req, "baseline")
            if sent is None:
                return None
            if sent.status != 422:
                self._styles[op.key] = style
                if not stats.baseline or "422" in stats.baseline:
                    stats.baseline = f"{style.label} request as {actor.label} → {outcome(sent)}"
                return req
            errors.append(f"{style.label}: {describe(sent.body)[:200]}")
            repaired = self._repair(style, sent)
            if repaired is not None:
                queue.insert(0, repaired)
            if len(tried) >= 2 and not queue and not extended:
                queue += [v for v in variants(self._optional_fields(op)) if v not in tried]
                extended = True
        stats.baseline = "no valid request found (422): " + " | ".join(errors[:4])
        return first

    def _repair(self, style: Style, sent: Sent) -> Style | None:
        """The fields a 422 names, forced to values the API itself returned."""
        error = sent.body.get("error", {}) if isinstance(sent.body, dict) else {}
        details = error.get("details") if isinstance(error, dict) else None
        forced = dict(style.overrides)
        for item in details if isinstance(details, list) else []:
            loc = [p for p in item.get("loc", []) if isinstance(p, str)]
            if len(loc) < 2 or loc[0] not in ("body", "query"):
                continue
            name = loc[-1]
            examples = self.bank_a.examples.get(name)
            if examples and name not in forced:
                forced[name] = examples[0]
        if len(forced) == len(style.overrides):
            return None
        return replace(style, overrides=tuple(sorted(forced.items(), key=lambda kv: kv[0])))

    def _optional_fields(self, op: Operation) -> list[str]:
        assert self.spec is not None
        schema = self.spec.resolve(op.body_schema)
        required = set(schema.get("required", []))
        return [name for name in schema.get("properties", {}) if name not in required][:6]

    def _send(
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
        assert self.spec is not None
        schema = self.spec.resolve(req.op.body_schema)
        props = schema.get("properties", {})
        files: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for name, value in req.body.items():
            sub = self.spec.resolve(props.get(name, {}))
            items = self.spec.resolve(sub.get("items", {})) if sub.get("type") == "array" else sub
            if items.get("format") == "binary" or "contentMediaType" in items:
                files[name] = ("probe.txt", b"isolation probe\n", "text/plain")
            elif isinstance(value, list):
                data[name] = [str(v) for v in value]
            else:
                data[name] = (
                    value
                    if isinstance(value, str)
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
        return files, data

    # ------------------------------------------------------------------ probes

    def _probe(
        self,
        op: Operation,
        actor: Actor,
        req: Req,
        kind: str,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        expect_refusal: bool = False,
        authenticated: bool = True,
    ) -> Sent | None:
        stats = self.report.route(op.key, op.scope)
        sent = self._send(actor, req, cookies=cookies, headers=headers)
        stats.probes += 1
        stats.statuses[sent.status] += 1
        if authenticated and reached_handler(sent):
            stats.exercised = True
        markers = [self.markers_b]
        if self._is_client1(actor) and self.markers_c2:
            markers.append(self.markers_c2)
        for m in markers:
            hits = m.found_in(sent)
            if hits:
                self._finding(
                    LEAK_BODY, op.key, kind, actor.label,
                    f"response carries data of {m.name}: {', '.join(hits[:5])}", sent,
                )  # fmt: skip
        if expect_refusal and not refused(sent):
            self._finding(
                NOT_REFUSED, op.key, kind, actor.label,
                f"expected 401/403/404, got {outcome(sent)}", sent,
            )  # fmt: skip
        self._check_digest(op.key, kind, actor.label, sent)  # reads must not write either
        if (
            authenticated
            and actor.creds.email
            and kind in ("baseline", "foreign", "control")
            and sent.code in LOST_SESSION_CODES
        ):
            self._heal(actor)
        return sent

    def _foreign_values(self, slot: Slot, actor: Actor) -> list[tuple[str, str]]:
        """(value, whose) pairs to put in ``slot``: B's, and another client's for clients."""
        n = self.cfg.ids_per_slot
        out: list[tuple[str, str]] = []
        if slot.kind == "tenant_slug":
            return [(self.cfg.b.slug, "tenant B")]
        if slot.kind == "tenant_id":
            return [(self.b["owner"].tenant_id, "tenant B")]
        typed = self.bank_b.pick(slot.resource, slot.fld, exclude=self.bank_a.uuids)
        if slot.resource is not None and canonical(slot.resource) == "tenant" and slot.fld == "id":
            typed = [self.b["owner"].tenant_id]
        if not typed and slot.fld == "id":
            typed = [v for v in self.bank_b.any_ids() if v in self.markers_b.uuids][:1]
        out += [(v, "tenant B") for v in typed[:n]]
        if self._is_client1(actor) and self.markers_c2:
            c2 = self.banks.get(f"a.{self.cfg.other_client}", Bank())
            theirs = [
                v for v in c2.pick(slot.resource, slot.fld) if v.lower() in self.markers_c2.uuids
            ]
            out += [(v, "another client of A") for v in theirs[:n]]
        return out

    def _slot_probes(self, op: Operation, actor: Actor, req: Req) -> None:
        for slot in req.slots:
            for value, whose in self._foreign_values(slot, actor):
                foreign = self._probe(op, actor, req.with_slot(slot, value), "foreign")
                control = self._probe(op, actor, req.with_slot(slot, _control(value)), "control")
                if foreign is None or control is None:
                    continue
                if not same_outcome(foreign, control):
                    self._finding(
                        DISTINGUISHABLE, op.key, f"{slot.label} = {whose}'s id", actor.label,
                        f"foreign id → {outcome(foreign)}; random id → {outcome(control)}", foreign,
                    )  # fmt: skip

    def _all_foreign(self, op: Operation, actor: Actor, req: Req) -> None:
        """Every slot filled with B's values at once, and its control."""
        foreign, control = req, req
        for slot in req.slots:
            values = self._foreign_values(slot, actor)
            if values:
                foreign = foreign.with_slot(slot, values[0][0])
                control = control.with_slot(slot, _control(values[0][0]))
        auth = actor.label != "anonymous"
        a = self._probe(op, actor, foreign, "foreign", authenticated=auth)
        b = self._probe(op, actor, control, "control", authenticated=auth)
        if a is not None and b is not None and req.slots and not same_outcome(a, b):
            self._finding(
                DISTINGUISHABLE, op.key, "every slot = B's ids", actor.label,
                f"foreign ids → {outcome(a)}; random ids → {outcome(b)}", a,
            )  # fmt: skip

    def _heal(self, actor: Actor) -> None:
        """A probe said this identity is signed out: sign in again, or drop it."""
        check = self.t.request("GET", "/api/tenant/current", cookies=actor.cookies)
        if check.status == 200:
            return
        try:
            fresh = self.t.login(actor.creds)
        except LoginFailed as exc:
            self.report.findings.append(
                Finding(IDENTITY_LOST, "-", "re-login", actor.label, str(exc))
            )
            for key, x in list(self.a.items()):
                if x is actor:
                    del self.a[key]
            return
        actor.cookies, actor.role = fresh.cookies, fresh.role

    # ------------------------------------------------------------------ credentials

    def _spoof_headers(self) -> dict[str, str]:
        b = self.b["owner"]
        return {
            "x-tenant-id": b.tenant_id,
            "x-tenant-slug": self.cfg.b.slug,
            "x-user-id": b.user_id,
        }

    def _credential_attacks(self, op: Operation, actor: Actor, req: Req) -> None:
        """The same request with mixed, forged or stale credentials: must be refused
        (except spoofed headers, which must simply be ignored)."""
        target = req
        for slot in req.slots:
            values = self._foreign_values(slot, actor)
            if values:
                target = target.with_slot(slot, values[0][0])
        b_owner = self.b["owner"]
        self._probe(op, actor, target, "spoofed-tenant-headers", headers=self._spoof_headers())
        for kind, cookies, headers in self._forgeries(actor, b_owner):
            self._probe(
                op, actor, target, kind, cookies=cookies, headers=headers,
                expect_refusal=True, authenticated=False,
            )  # fmt: skip

    def _forgeries(
        self, actor: Actor, b_owner: Actor
    ) -> Iterator[tuple[str, dict[str, str], dict[str, str] | None]]:
        b_host = {"host": self.t.tenant_host(self.cfg.b.slug)}
        a_host = {"host": self.t.tenant_host(self.cfg.a.slug)}
        sig = actor.sig
        yield "host-of-B", actor.cookies, b_host
        yield "B-session-on-A-host", b_owner.cookies, a_host
        yield "sig-of-B-with-session-of-A", actor.with_cookie(SIG_COOKIE, b_owner.sig), None
        yield "sig-of-A-with-session-of-B", b_owner.with_cookie(SIG_COOKIE, sig), None
        yield "no-sig", actor.with_cookie(SIG_COOKIE, None), None
        yield "tampered-sig", actor.with_cookie(SIG_COOKIE, _tamper(sig)), None
        yield "truncated-sig", actor.with_cookie(SIG_COOKIE, sig[:-12]), None
        claim = _claim(sig)
        if claim is not None:
            removed = [b"removed-" + secrets.token_bytes(24)]
            yield "removed-key-sig", actor.with_cookie(SIG_COOKIE, _resign(removed, claim)), None
            if self.cfg.signing_keys:
                keys = self.cfg.signing_keys
                old = claim.issued_at - self.cfg.sig_max_age_s - 3600
                expired = _resign(keys, replace(claim, issued_at=old))
                yield "expired-sig", actor.with_cookie(SIG_COOKIE, expired), None
                forged = _resign(
                    keys,
                    replace(
                        claim, tenant_id=uuid.UUID(b_owner.tenant_id), issued_at=int(time.time())
                    ),
                )
                yield "valid-sig-naming-B", actor.with_cookie(SIG_COOKIE, forged), None

    # ================================================================== scenarios

    def _scenarios(self) -> None:
        if not self.cfg.scenarios:
            self.report.notes.append("closing scenarios not run (configured off)")
            return
        self._login_to_b()
        self._replay_after_membership_removal()
        self._replay_after_logout_all()

    def _tenant_ops(self) -> list[Operation]:
        assert self.spec is not None
        return [
            op
            for op in self.spec.operations
            if op.scope == "tenant"
            and exemptions.skip_reason(op.key) is None
            and (self.cfg.select is None or self.cfg.select(op.key))
        ]

    def _login_to_b(self) -> None:
        name = "login-to-other-tenant"
        for label in self.cfg.login_scenario_roles:
            actor = self.a.get(label)
            if actor is None:
                continue
            attempts = [
                ({"tenant": self.cfg.b.slug}, None),
                ({"tenant": f"probe-{secrets.token_hex(4)}"}, None),
                ({}, {"host": self.t.tenant_host(self.cfg.b.slug)}),
            ]
            results: list[Sent] = []
            for extra, headers in attempts:
                body = {"email": actor.creds.email, "password": actor.creds.password, **extra}
                sent = self.t.request("POST", "/api/auth/login", json_body=body, headers=headers)
                self.report.scenario_probes[name] += 1
                results.append(sent)
                hits = self.markers_b.found_in(sent)
                if hits:
                    self._finding(
                        LEAK_BODY,
                        "POST /api/auth/login",
                        name,
                        actor.label,
                        f"carries B's data: {hits[:5]}",
                        sent,
                    )
            for sent, what in ((results[0], "tenant=B"), (results[2], "B's host")):
                if sent.status == 200:
                    self._finding(
                        NOT_REFUSED,
                        "POST /api/auth/login",
                        f"{name} ({what})",
                        actor.label,
                        "signed in to B",
                        sent,
                    )
            if not same_outcome(results[0], results[1]):
                self._finding(
                    DISTINGUISHABLE,
                    "POST /api/auth/login",
                    f"{name} (tenant=B vs unknown slug)",
                    actor.label,
                    f"B → {outcome(results[0])}; unknown → {outcome(results[1])}",
                    results[0],
                )

    def _replay(self, name: str, actor: Actor, stale: dict[str, str]) -> None:
        for op in self._tenant_ops():
            req = self._request(op, actor, self._styles.get(op.key, STYLES[0]))
            if op.mutating:
                # Should stale cookies be accepted, hit nothing real.
                for slot in req.slots:
                    req = req.with_slot(slot, str(uuid.uuid4()))
            self.report.scenario_probes[name] += 1
            sent = self._send(actor, req, cookies=stale)
            self.report.route(op.key, op.scope).statuses[sent.status] += 1
            if sent.status not in (401, 403):
                self._finding(
                    NOT_REFUSED,
                    op.key,
                    name,
                    actor.label,
                    f"stale cookies got {outcome(sent)}",
                    sent,
                )

    def _replay_after_logout_all(self) -> None:
        name = "replay-after-logout-all"
        label = self.cfg.logout_victim or next(
            (k for k in ("staff", "admin", "client", "owner") if k in self.a), None
        )
        if label is None or label not in self.a:
            self.report.notes.append(f"{name}: skipped, no identity of A left to sign out")
            return
        victim = self.a[label]
        try:
            kept = self.t.login(victim.creds)
            other = self.t.login(victim.creds)
        except LoginFailed as exc:
            self.report.notes.append(f"{name}: skipped, cannot sign in: {exc}")
            return
        out = self.t.request("POST", "/api/auth/logout-all", cookies=other.cookies)
        self.report.scenario_probes[name] += 1
        if out.status != 200:
            self.report.notes.append(f"{name}: logout-all answered {outcome(out)}")
            return
        self._replay(name, kept, kept.cookies)
        self._replay(name + " (the signing-out browser's own cookies)", other, other.cookies)
        del self.a[label]

    def _replay_after_membership_removal(self) -> None:
        name = "replay-after-membership-removal"
        if self.adapter is None:
            self.report.notes.append(
                f"{name}: skipped — removing a membership needs the data adapter (in-process); "
                "no generic API for it is assumed"
            )
            return
        if self.cfg.leaver is None:
            self.report.notes.append(f"{name}: skipped — no leaver identity configured")
            return
        leaver = self.t.login(self.cfg.leaver)
        self.adapter.remove_membership(leaver.tenant_id, leaver.user_id)
        self._replay(name, leaver, leaver.cookies)
        self._refresh_digest()

    # ================================================================== wrap-up

    def _finding(
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

    def _finish(self) -> None:
        for stats in self.report.routes.values():
            if stats.skipped or stats.exercised or stats.exempt:
                continue
            self._finding(
                UNEXERCISED,
                stats.route,
                "sweep",
                "-",
                "no probe got past authentication/validation "
                f"({dict(stats.statuses)}); baseline: {stats.baseline or '-'}",
            )
        self.report.notes.append(
            f"{self.t.sent} HTTP requests in {time.monotonic() - self._started:.1f}s"
        )


# ---------------------------------------------------------------------- helpers


def _label(actor: Actor) -> str:
    return actor.creds.label.rsplit(".", 1)[-1]


def _path_resource(path: str) -> str | None:
    segments = static_segments(path)
    for seg in reversed(segments):
        if seg not in ("api", "admin", "portal", "public", "me"):
            return canonical(seg)
    return None


def _param_resource(op: Operation, name: str) -> str | None:
    direct = resource_of_field(name)
    if direct is not None:
        return direct
    # ``{id}`` / ``{slug}``: the static segment just before it names the resource.
    parts = op.path.split("/")
    for i, part in enumerate(parts):
        if part == "{" + name + "}":
            for prev in reversed(parts[:i]):
                if prev and not prev.startswith("{"):
                    return canonical(prev)
    return None


def _param_field(name: str) -> str:
    return "id" if name == "id" or name.endswith("_id") else name


def _control(value: str) -> str:
    """A value of the same shape as ``value`` that names nothing."""
    try:
        uuid.UUID(value)
    except ValueError:
        return f"probe-{secrets.token_hex(5)}"
    return str(uuid.uuid4())


def _tamper(sig: str) -> str:
    if not sig:
        return "v1.tampered"
    last = sig[-4:]
    return sig[:-4] + ("AAAA" if last != "AAAA" else "BBBB")


def _claim(sig: str) -> signing.TenantClaim | None:
    parts = sig.split(".")
    if len(parts) != 6:
        return None
    try:
        return signing.TenantClaim(
            uuid.UUID(parts[1]), uuid.UUID(parts[2]), int(parts[3]), int(parts[4])
        )
    except ValueError:
        return None


def _resign(keys: list[bytes], claim: signing.TenantClaim) -> str:
    return signing.sign(
        keys,
        tenant_id=claim.tenant_id,
        user_id=claim.user_id,
        session_version=claim.session_version,
        issued_at=claim.issued_at,
    )


def _canonical_json(data: Any) -> Any:
    if isinstance(data, dict):
        return sorted((k, _canonical_json(v)) for k, v in data.items())
    if isinstance(data, list):
        return [_canonical_json(v) for v in data]
    return data

"""The attack engine: every route, every method, as members of tenant A, against B.

A run:

1. reads ``/openapi.json`` (and, in-process, cross-checks it against the app's route
   table so a route hidden from the document is probed all the same, never missed);
2. signs in every identity of A and B, and *harvests* what each can see (``harvest``);
3. sweeps every operation (reads, then writes, deletions last) as each member of A:
   a valid request with A's own ids (the baseline), then each slot — path, query and
   body fields that name a record — filled with B's ids, each paired with a *control*
   that puts a random uuid in the same slot; a client of A also tries another client's
   ids. Each tenant-scoped route is then hit with mixed and forged credentials
   (``forgeries``);
4. ends with the scenarios that kill sessions (``scenarios``).

Every answer is checked for B's data (``oracle``); B's rows are compared after every
probe (in-process) and B's own API view after every mutating route (``watch``).
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Any

import httpx

from tenantry.probe import exemptions, harvest, scenarios
from tenantry.probe.bank import Bank, canonical
from tenantry.probe.config import Config
from tenantry.probe.data import DataAdapter
from tenantry.probe.forgeries import forged_credentials
from tenantry.probe.http import Actor, Credentials, LoginFailed, Sent, Transport
from tenantry.probe.oracle import (
    LOST_SESSION_CODES,
    describe,
    outcome,
    reached_handler,
    refused,
    same_outcome,
)
from tenantry.probe.report import (
    DISTINGUISHABLE,
    IDENTITY_LOST,
    LEAK_BODY,
    LEAK_CHANGED,
    NOT_REFUSED,
    UNEXERCISED,
    Finding,
    Report,
)
from tenantry.probe.requests import Req, RequestFactory, control_value
from tenantry.probe.spec import Operation, Param, Spec, path_params
from tenantry.probe.state import RunState, Seen
from tenantry.probe.success import SuccessPath
from tenantry.probe.values import STYLES, Slot, Style, variants
from tenantry.probe.watch import ChangeWatch

ATTACKER_ROLES = ("owner", "admin", "staff", "client")
MAX_BASELINE_TRIES = 14
MAX_CLASHES = 3


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
        # A's attackers' user ids: never put in a mutating path (no self-demotion).
        self.protected: set[str] = set()
        self.rng = random.Random(config.seed)  # noqa: S311 - test data, not secrets
        self._state: RunState | None = None
        self._success: SuccessPath
        self._watch: ChangeWatch | None = None
        self._reads_checked = False
        self._started = 0.0

    # ================================================================== run

    def run(self) -> Report:
        self._started = time.monotonic()
        spec = Spec(self._openapi())
        self._cross_check(spec)
        members: dict[str, Actor] = {}
        seen = Seen()
        requests = RequestFactory(
            spec, self.t, members=members, banks=seen.banks, tenant_bank=seen.a,
            protected=self.protected, rng=self.rng,
        )  # fmt: skip
        self._state = RunState(
            self.cfg, self.t, self.report, spec, requests, self.adapter, a=members, seen=seen
        )
        self._success = SuccessPath(self._state, self._probe)
        self._sign_in()
        self.protected |= scenarios.check_memberships(self.s)
        harvest.harvest(self.s)
        seeded = scenarios.seed_other_client(self.s)
        if seeded:
            harvest.again(self.s, self.s.a[self.cfg.other_client])
        harvest.build_markers(self.s)
        self.report.notes.append(f"A's other client made {seeded} records of its own first")
        self._say(
            f"{self.t.sent} requests; markers: {len(self.s.markers_b.uuids)} ids and "
            f"{len(self.s.markers_b.strings)} strings of B, {len(self.s.markers_c2.uuids)} ids "
            "of A's other client"
        )
        self._take_reference()
        for op in spec.operations:
            if self.cfg.select is None or self.cfg.select(op.key):
                self._sweep(op)
        scenarios.run_scenarios(self.s)
        self._check_view("end of run")
        self._finish()
        return self.report

    @property
    def s(self) -> RunState:
        """The run's state (identities, what was seen, markers), shared with harvest
        and the closing scenarios."""
        assert self._state is not None, "run() first"
        return self._state

    @property
    def watch(self) -> ChangeWatch:
        assert self._watch is not None, "run() first"
        return self._watch

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
        for prefix, side, actors in (("a", self.cfg.a, self.s.a), ("b", self.cfg.b, self.s.b)):
            for label, creds in side.members.items():
                actors[label] = self.t.login(replace(creds, label=f"{prefix}.{label}"))
        if "owner" not in self.s.b:
            raise ValueError("tenant B needs an owner identity (its view is the reference)")
        self.protected.update(x.user_id for x in self.s.a.values())
        self._watch = ChangeWatch(
            self.t, self.adapter, tenant_id=self.s.b_tenant_id, slug=self.cfg.b.slug
        )
        self._say(f"signed in {len(self.s.a)} identities of A and {len(self.s.b)} of B")

    @property
    def attackers(self) -> list[Actor]:
        return [
            x
            for label, x in self.s.a.items()
            if x.role in ATTACKER_ROLES and label != self.cfg.other_client
        ]

    def _is_client1(self, actor: Actor) -> bool:
        return actor.label == f"a.{self.cfg.client}" and actor.role == "client"

    # ================================================================== B's reference

    def _take_reference(self) -> None:
        owner, client = self.s.b["owner"], self.s.b.get("client")
        candidates: list[tuple[Actor, Operation]] = []
        for op in self.s.spec.operations:
            if op.method != "GET" or op.path_params or any(p.required for p in op.query_params):
                continue
            if op.scope == "tenant":
                candidates += [(owner, op)] + ([(client, op)] if client else [])
            elif op.scope == "public":
                candidates.append((owner, op))
        unstable = self.watch.reference(candidates)
        if unstable:
            self.report.notes.append(
                "B's API view leaves out reads that change between two identical calls: "
                + ", ".join(unstable)
            )
        self._say(f"B's reference view: {self.watch.reads} reads")

    def _check_rows(self, route: str, probe: str, actor: str, sent: Sent) -> None:
        changed = self.watch.rows_changed()
        if changed:
            detail = f"B's rows changed in {', '.join(changed)}"
            self.s.finding(LEAK_CHANGED, route, probe, actor, detail, sent)

    def _check_view(self, route: str) -> None:
        changed = self.watch.view_changed()
        if changed:
            detail = "changed: " + ", ".join(changed)
            self.s.finding(LEAK_CHANGED, route, "B's own API reads", "b.owner", detail)

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
            self._check_view("every read route (GET)")
            self._reads_checked = True
        if op.scope == "tenant":
            self._sweep_tenant(op)
        else:
            self._sweep_open(op)
        if op.mutating:
            self._check_view(op.key)
        self._say(f"{op.key}: {stats.probes - before} probes")

    def _sweep_tenant(self, op: Operation) -> None:
        allowed = [x for x in self.attackers if op.allows(x.role)]
        others = [x for x in self.attackers if not op.allows(x.role)]
        lead: tuple[Actor, Req] | None = None
        for actor in allowed:
            req = self._baseline(op, actor)
            lead = lead or (actor, req)
            self._slot_probes(op, actor, req)
        for actor in others:
            self._all_foreign(op, actor, self.s.requests.build(op, actor, STYLES[0]))
        if lead is None and self.attackers:
            lead = (self.attackers[0], self.s.requests.build(op, self.attackers[0], STYLES[0]))
        if lead is not None and self.cfg.credential_attacks:
            self._credential_attacks(op, *lead)

    def _sweep_open(self, op: Operation) -> None:
        """Public and system routes: anonymous and as A's members, on A's host."""
        anonymous = Actor(Credentials("anonymous", "", "", self.cfg.a.slug))
        anonymous.tenant_slug = self.cfg.a.slug
        actors = [anonymous] + [x for x in self.attackers if x.role in ("owner", "client")]
        for actor in actors:
            if op.scope == "system":
                self._all_foreign(op, actor, self.s.requests.build(op, actor, STYLES[0]))
            else:
                self._slot_probes(op, actor, self._baseline(op, actor))
        if op.scope == "public":
            req = self.s.requests.build(op, anonymous, STYLES[0])
            self._probe(op, anonymous, req, "spoofed-tenant-headers", headers=self._spoof_headers())

    # ------------------------------------------------------------------ baselines

    def _baseline(self, op: Operation, actor: Actor) -> Req:
        """A request that passes validation, with the actor's own ids; sent (except for
        deletions, which would destroy the rows later probes need).

        Body styles are tried in turn — every property, only the required ones, then
        one optional field added or dropped, past dates — and a 422 that names a field
        is retried with a value of that name seen in the API's own answers."""
        stats = self.report.route(op.key, op.scope)
        known = self.s.styles.get(op.key)
        queue: list[Style] = [known] if known else list(STYLES[:2])
        if not (op.body_schema or op.query_params):
            queue = queue[:1]
        extended = known is not None  # a style that worked for another member: no variants
        tried: list[Style] = []
        errors: list[str] = []
        first: Req | None = None
        clashes = 0
        while queue and len(tried) < MAX_BASELINE_TRIES:
            style = queue.pop(0)
            if style in tried:
                continue
            tried.append(style)
            req = self.s.requests.build(op, actor, style)
            first = first or req
            if op.method == "DELETE":
                # Never on a harvested record (later probes need them): on a fresh one.
                made = None if stats.exercised else self._success.attempt(op, actor, req)
                if made is not None:
                    stats.baseline = f"{style.label} request as {actor.label}, {made[2]} → "
                    stats.baseline += outcome(made[1])
                    return made[0]
                stats.baseline = stats.baseline or "not sent (deletion, no fresh record)"
                return req
            sent = self._probe(op, actor, req, "baseline")
            if sent.status == 409 and not op.path_params and clashes < MAX_CLASHES:
                # A clash with an earlier record (a slot taken): built again, it differs.
                clashes += 1
                queue.insert(0, style)
                tried.remove(style)
                errors.append(f"{style.label}: {describe(sent.body)[:200]}")
                continue
            if sent.status != 422:
                self.s.styles[op.key] = style
                if not 200 <= sent.status < 300 and op.path_params and not stats.exercised:
                    made = self._success.attempt(op, actor, req)
                    if made is not None:
                        stats.baseline = f"{style.label} request as {actor.label}, {made[2]} → "
                        stats.baseline += outcome(made[1])
                        return made[0]
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
        assert first is not None
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
            examples = self.s.seen.a.examples.get(loc[-1])
            if examples and loc[-1] not in forced:
                forced[loc[-1]] = examples[0]
        if len(forced) == len(style.overrides):
            return None
        return replace(style, overrides=tuple(sorted(forced.items(), key=lambda kv: kv[0])))

    def _optional_fields(self, op: Operation) -> list[str]:
        schema = self.s.spec.resolve(op.body_schema)
        required = set(schema.get("required", []))
        return [name for name in schema.get("properties", {}) if name not in required][:6]

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
    ) -> Sent:
        stats = self.report.route(op.key, op.scope)
        sent = self.s.requests.send(actor, req, cookies=cookies, headers=headers)
        stats.probes += 1
        stats.statuses[sent.status] += 1
        if authenticated and reached_handler(sent):
            stats.reached = True
        if kind == "baseline" and 200 <= sent.status < 300:
            stats.exercised = True  # the success path itself was attacked
        markers = [self.s.markers_b]
        if self._is_client1(actor) and self.s.markers_c2:
            markers.append(self.s.markers_c2)
        for m in markers:
            hits = m.found_in(sent)
            if hits:
                detail = f"response carries data of {m.name}: {', '.join(hits[:5])}"
                self.s.finding(LEAK_BODY, op.key, kind, actor.label, detail, sent)
        if expect_refusal and not refused(sent):
            detail = f"expected 401/403/404, got {outcome(sent)}"
            self.s.finding(NOT_REFUSED, op.key, kind, actor.label, detail, sent)
        self._check_rows(op.key, kind, actor.label, sent)  # reads must not write either
        lost = sent.code in LOST_SESSION_CODES and kind in ("baseline", "foreign", "control")
        if authenticated and actor.creds.email and lost:
            self._heal(actor)
        return sent

    def _foreign_values(self, slot: Slot, actor: Actor) -> list[tuple[str, str]]:
        """(value, whose) pairs to put in ``slot``: B's, and another client's for clients."""
        n = self.cfg.ids_per_slot
        if slot.kind == "tenant_slug":
            return [(self.cfg.b.slug, "tenant B")]
        if slot.kind == "tenant_id":
            return [(self.s.b_tenant_id, "tenant B")]
        typed = self.s.seen.b.pick(slot.resource, slot.fld, exclude=self.s.a_known)
        if slot.resource is not None and canonical(slot.resource) == "tenant" and slot.fld == "id":
            typed = [self.s.b_tenant_id]
        if not typed and slot.fld == "id":
            typed = [v for v in self.s.seen.b.any_ids() if v in self.s.markers_b.uuids][:1]
        if self.s.seen.b_rows:
            # B's own rows first: with a wall broken, B's view also holds other tenants'
            # rows (a shared database), and an id of theirs with nothing under it shows
            # no leak where B's record would.
            typed = sorted(typed, key=lambda v: v.lower() not in self.s.seen.b_rows)
        out = [(v, "tenant B") for v in typed[:n]]
        if self._is_client1(actor) and self.s.markers_c2:
            theirs = self.s.seen.banks.get(f"a.{self.cfg.other_client}", Bank())
            picked = theirs.pick(slot.resource, slot.fld)
            out += [
                (v, "another client of A") for v in picked if v.lower() in self.s.markers_c2.uuids
            ][:n]
        return out

    def _slot_probes(self, op: Operation, actor: Actor, req: Req) -> None:
        for slot in req.slots:
            for value, whose in self._foreign_values(slot, actor):
                foreign = self._probe(op, actor, req.with_slot(slot, value), "foreign")
                control = self._probe(
                    op, actor, req.with_slot(slot, control_value(value)), "control"
                )
                if not same_outcome(foreign, control):
                    detail = f"foreign id → {outcome(foreign)}; random id → {outcome(control)}"
                    probe = f"{slot.label} = {whose}'s id"
                    self.s.finding(DISTINGUISHABLE, op.key, probe, actor.label, detail, foreign)

    def _all_foreign(self, op: Operation, actor: Actor, req: Req) -> None:
        """Every slot filled with B's values at once, and its control."""
        foreign, control = req, req
        for slot in req.slots:
            values = self._foreign_values(slot, actor)
            if values:
                foreign = foreign.with_slot(slot, values[0][0])
                control = control.with_slot(slot, control_value(values[0][0]))
        auth = actor.label != "anonymous"
        a = self._probe(op, actor, foreign, "foreign", authenticated=auth)
        b = self._probe(op, actor, control, "control", authenticated=auth)
        if req.slots and not same_outcome(a, b):
            detail = f"foreign ids → {outcome(a)}; random ids → {outcome(b)}"
            self.s.finding(DISTINGUISHABLE, op.key, "every slot = B's ids", actor.label, detail, a)

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
            for key, x in list(self.s.a.items()):
                if x is actor:
                    del self.s.a[key]
            return
        actor.cookies, actor.role = fresh.cookies, fresh.role

    # ------------------------------------------------------------------ credentials

    def _spoof_headers(self) -> dict[str, str]:
        b = self.s.b["owner"]
        return {
            "x-tenant-id": b.tenant_id,
            "x-tenant-slug": self.cfg.b.slug,
            "x-user-id": b.user_id,
        }

    def _credential_attacks(self, op: Operation, actor: Actor, req: Req) -> None:
        """The same request — every slot naming B's records — with mixed, forged or
        stale credentials: must be refused (spoofed headers must simply be ignored)."""
        target = req
        for slot in req.slots:
            values = self._foreign_values(slot, actor)
            if values:
                target = target.with_slot(slot, values[0][0])
        self._probe(op, actor, target, "spoofed-tenant-headers", headers=self._spoof_headers())
        forgeries = forged_credentials(
            actor, self.s.b["owner"],
            own_host=self.t.tenant_host(self.cfg.a.slug),
            other_host=self.t.tenant_host(self.cfg.b.slug),
            keys=self.cfg.signing_keys, max_age_s=self.cfg.sig_max_age_s,
        )  # fmt: skip
        for kind, cookies, headers in forgeries:
            self._probe(
                op, actor, target, kind, cookies=cookies, headers=headers,
                expect_refusal=True, authenticated=False,
            )  # fmt: skip

    def _finish(self) -> None:
        for stats in self.report.routes.values():
            if stats.skipped or stats.exercised or stats.exempt:
                continue
            if self.cfg.select is not None and not self.cfg.select(stats.route):
                continue  # outside --only: reached only to prepare a selected route
            detail = (
                "no probe got past authentication/validation "
                f"({dict(stats.statuses)}); baseline: {stats.baseline or '-'}"
            )
            self.s.finding(UNEXERCISED, stats.route, "sweep", "-", detail)
        elapsed = time.monotonic() - self._started
        self.report.notes.append(f"{self.t.sent} HTTP requests in {elapsed:.1f}s")

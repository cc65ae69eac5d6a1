"""Fuzzing every operation of ``/openapi.json`` as an owner, a staff member and a client.

schemathesis generates requests from the published schema (in-process, through ASGI),
a few examples per operation and role. The requests are made to reach the code behind
validation, not just the validators: path parameters are real ids of the tenant's own
records, harvested from an attack world by the probe's own harvest (so a by-id operation
answers 2xx, not 404), and every other example is valid: its body and query come from
the probe's request builder (in the body style the API accepted for that creation), a
booking takes a free slot read from the availability API, an upload is a text file, and
a transition takes a record the fuzzing itself made. Operations that take something away
(deletions, a role's permissions, the booking rules) run last. Three properties must
hold:

* no 5xx, and every body matches the schema the operation documents for that status;
* every operation answers 2xx for a minimum share of the requests of the roles allowed to
  call it (``MIN_2XX_SHARE``; a transition by id at least once; exemptions are listed
  with their reason and printed in the run summary) — a fuzz run that only ever sees
  401/403/404/422 proves nothing;
* ``test_a_fuzz_run_with_authentication_broken_fails`` runs the same fuzzing against an
  app whose tenant authentication answers 401 to everything, and expects it to fail.
"""

from __future__ import annotations

import itertools
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tenantry.app import create_app
from tenantry.auth.dependencies import require_tenant
from tenantry.errors import NotAuthenticated
from tenantry.probe import Report, harvest
from tenantry.probe.bank import Bank, canonical
from tenantry.probe.http import Actor, Transport
from tenantry.probe.requests import RequestFactory, param_field, param_resource, path_resource
from tenantry.probe.spec import Spec
from tenantry.probe.state import RunState, Seen
from tenantry.probe.values import STYLES, Style, variants
from tenantry.settings import Settings
from tests.isolation.conftest import note_exemption
from tests.isolation.world import World

MAX_EXAMPLES = 6
ROLES = ("owner", "staff", "client")
MIN_2XX_SHARE = 0.15
# Operations whose valid bodies take one of the free slots (the fields they get).
BOOKS_A_SLOT = {
    "POST /api/admin/bookings": ("service_id", "assignee_id", "starts_at", "ends_at"),
    "POST /api/portal/bookings": ("service_id", "starts_at"),
    # The fuzz's own fresh bookings come first, assigned to the same staff member.
    "POST /api/admin/bookings/{booking_id}/reschedule": ("starts_at", "ends_at"),
}
# Operations not fuzzed, and why.
NOT_FUZZED = {
    "POST /api/auth/login": "each attempt is an argon2 hash (slow); covered by auth tests",
    "POST /api/auth/register": "creates accounts with an argon2 hash each; covered by auth tests",
    "POST /api/auth/logout-all": "would sign the fuzzing member out of every later request",
    "POST /api/auth/logout": "would end the fuzzing member's session for every later request",
}
# 5xx answers that are the route's documented behaviour when an upstream this test does
# not run is unreachable — not server errors of ours: "METHOD /path" → (status, code).
UPSTREAM_DOWN = {
    "POST /api/admin/email/test": (502, "mail_unavailable"),  # no SMTP server in this run
}
_TRANSITION = (
    "a state transition: an id drawn from the world is rarely in the one state the "
    "transition leaves (a booking is confirmed once, then never again); the attack engine "
    "attacks its success path on fresh records (tests/isolation/test_attack_engine.py)"
)
_SCAN = (
    "a file is served only after the antivirus verdict (409 scan_pending before); "
    "tests/integration/api/test_attachments.py downloads scanned files"
)
_OPERATOR = (
    "the operator API: platform operators only (users.is_superadmin), never a tenant "
    "member — a member's 403 is the expected answer; "
    "tests/integration/lifecycle/test_operator_api.py drives it as an operator"
)
_SIGNUP = (
    "self sign-up is off unless TENANTRY_SIGNUP_ENABLED is set (404 signup_disabled); "
    "tests/integration/lifecycle/test_signup.py signs up with it on"
)
_EMAILED_TOKEN = (
    "redeems a signed, single-use token that only the e-mailed link carries (400 "
    "invalid_token for generated ones); tests/integration/api/test_accounts.py and "
    "test_identity_attacks.py redeem real links through a mailbox"
)
# Operations allowed to stay under MIN_2XX_SHARE, and why.
FEW_2XX = {
    "POST /api/auth/verify-email": _EMAILED_TOKEN,
    "POST /api/auth/password-reset/confirm": _EMAILED_TOKEN,
    "POST /api/auth/invitations/accept": _EMAILED_TOKEN,
    "POST /api/auth/invitations/preview": _EMAILED_TOKEN,
    "POST /api/auth/invitations/{invitation_id}/accept": "accepts an invitation addressed "
    "to the caller's own verified address; the world's members have none open; "
    "tests/integration/api/test_accounts.py accepts listed invitations",
    "POST /api/auth/password": "needs the caller's current password, which generated "
    "bodies never hold (401); tests/integration/api/test_accounts.py changes passwords",
    "GET /api/operator/audit-log": _OPERATOR,
    "GET /api/operator/tenants": _OPERATOR,
    "GET /api/operator/tenants/{slug}": _OPERATOR,
    "GET /api/operator/tenants/{slug}/tables/{table}": _OPERATOR,
    "POST /api/operator/tenants": _OPERATOR,
    "POST /api/operator/tenants/{slug}/members/{user_id}/remove": _OPERATOR,
    "POST /api/operator/tenants/{slug}/members/{user_id}/role": _OPERATOR,
    "POST /api/operator/tenants/{slug}/reactivate": _OPERATOR,
    "POST /api/operator/tenants/{slug}/suspend": _OPERATOR,
    "POST /api/signup": _SIGNUP,
    "POST /api/signup/verify": _SIGNUP,
    "POST /api/auth/handoff": "needs a one-time token that POST /api/tenant/handoff "
    "minted for this host, which no generated body has (403 handoff_invalid); "
    "tests/integration/test_handoff.py redeems real ones",
    "POST /api/admin/bookings/{booking_id}/confirm": _TRANSITION,
    "POST /api/admin/bookings/{booking_id}/complete": _TRANSITION,
    "POST /api/admin/expenses/{expense_id}/reject": _TRANSITION,
    "POST /api/admin/invoices/{invoice_id}/void": _TRANSITION,
    "POST /api/admin/service-requests/{request_id}/status": _TRANSITION,
    "POST /api/admin/service-requests/{request_id}/convert-to-booking": _TRANSITION,
    "GET /api/admin/attachments/{attachment_id}/download": _SCAN,
    "GET /api/portal/attachments/{attachment_id}/download": _SCAN,
    "GET /api/ops/security": "platform operators only (users.is_superadmin): a tenant "
    "member's 403 is the expected answer; tests/e2e/test_ops_security_page.py",
    "GET /metrics": "needs the metrics token or the loopback address, never a tenant "
    "member's session; tests/integration covers it",
    "POST /api/admin/email/test": "needs an SMTP server (502 mail_unavailable here); "
    "tests/integration/api/test_email.py sends through a real one",
    "POST /api/payments/webhook": "system scope: only the payment provider's HMAC signature "
    "gets in; tests/integration/api/test_payments.py signs real events",
    "POST /api/attachments/scan-callback": "system scope: only the scanner's shared secret "
    "gets in; tests/integration/api/test_attachments.py",
}


@dataclass
class Seeds:
    """Signed-in members of A and what each of them can see (the probe's harvest)."""

    actors: dict[str, Actor]
    banks: dict[str, Bank]
    tenant: Bank
    factory: RequestFactory
    spec: Spec
    host: str
    # The body style that passed validation, per creation (learned in ``seed``).
    styles: dict[str, Style] = field(default_factory=dict)
    # Free booking slots of one staff member for a service of the fuzz's own (one a
    # day, so no two overlap or break the buffer): bodies that pass the booking rules.
    free_slots: list[dict[str, str]] = field(default_factory=list)
    # Records the fuzzing itself created (resource → ids, newest first): a transition
    # fuzzed later finds them in their first state (a fresh booking is still pending).
    created: dict[str, list[str]] = field(default_factory=dict)

    def valid(self, op: Any, actor: Actor) -> Any:
        """A request the probe's builder knows to be valid for ``op``."""
        built = self.factory.build(op, actor, self.styles.get(op.key, STYLES[0]))
        if op.key in BOOKS_A_SLOT and self.free_slots and isinstance(built.body, dict):
            slot = self.free_slots.pop(0)
            # Only the fields the operation has (the portal names no assignee).
            built.body.update({k: v for k, v in slot.items() if k in BOOKS_A_SLOT[op.key]})
        return built

    def path_ids(self, op: Any, role: str, *, fresh_only: bool = False) -> dict[str, list[str]]:
        """Real ids for each path parameter: the role's own records first, then A's —
        never a fuzzing member's own user id in a mutating path (no self-removal). With
        ``fresh_only``, only records the fuzzing made (for the valid examples)."""
        mine = {a.user_id for a in self.actors.values()} if op.mutating else set()
        out: dict[str, list[str]] = {}
        for p in op.path_params:
            res, fld = param_resource(op, p.name), param_field(p.name)
            own = self.banks.get(f"a.{role}", Bank()).pick(res, fld, exclude=mine)
            ids = [] if fresh_only else own or self.tenant.pick(res, fld, exclude=mine)
            if fld == "id" and res is not None:
                fresh = [i for i in self.created.get(canonical(res), []) if i not in mine]
                ids = [*fresh[:8], *ids]
            if p.schema.get("enum"):
                ids = [str(v) for v in p.schema["enum"]]
            if ids:
                out[p.name] = ids[:8]
        return out


def seed(app: FastAPI, world: World, config: Settings) -> Seeds:
    client = TestClient(app)
    t = Transport(client, base_domain=config.base_domain)
    spec = Spec(client.get("/openapi.json").json())
    members: dict[str, Actor] = {}
    seen = Seen()
    factory = RequestFactory(
        spec, t, members=members, banks=seen.banks, tenant_bank=seen.a, protected=set(),
        rng=random.Random(7),
    )  # fmt: skip
    cfg = world.config(config)
    run = RunState(cfg, t, Report("fuzz seeds"), spec, factory, None, a=members, seen=seen)
    for role in ROLES:
        members[role] = t.login(replace(world.a.creds(role), label=f"a.{role}"))
    run.b["owner"] = t.login(replace(world.b.creds("owner"), label="b.owner"))
    harvest.harvest(run)
    seeds = Seeds(members, seen.banks, seen.a, factory, spec, t.tenant_host(world.a.slug))
    seeds.styles = learn_styles(t, seeds)
    seeds.free_slots = free_slots(t, seeds)
    return seeds


def learn_styles(t: Transport, seeds: Seeds) -> dict[str, Style]:
    """For each creation with a JSON body (no path parameter, so nothing harvested is
    changed), the first body style the API accepts past validation — as the attack
    engine's baseline does: every property, only the required ones, then one optional
    field added or dropped (a reminder names exactly one of booking and request)."""
    out: dict[str, Style] = {}
    for op in seeds.spec.operations:
        if op.scope != "tenant" or op.path_params or op.body_kind != "json":
            continue
        if op.key in NOT_FUZZED or op.method == "DELETE":
            continue
        role = next((r for r in ROLES if op.allows(r)), None)
        if role is None:
            continue
        schema = seeds.spec.resolve(op.body_schema)
        optional = [n for n in schema.get("properties", {}) if n not in schema.get("required", [])]
        for style in [*STYLES[:2], *variants(optional[:6])]:
            built = seeds.factory.build(op, seeds.actors[role], style)
            sent = t.request(op.method, op.path, cookies=seeds.actors[role].cookies,
                             headers={"host": seeds.host}, params=built.query or None,
                             json_body=built.body)  # fmt: skip
            if sent.status != 422 or sent.code != "validation_error":
                out[op.key] = style
                break
    return out


def free_slots(t: Transport, seeds: Seeds) -> list[dict[str, str]]:
    """A service of the fuzz's own (made after the harvest, so no fuzzed path or body
    picks it to retire or deactivate it) and the staff member's open slots for it over
    the next four weeks, two hours apart: each is a booking the rules accept (a future
    start within opening hours on the slot grid, notice and advance kept, the assignee
    free) and no two of them clash."""
    owner, staff = seeds.actors["owner"], seeds.actors["staff"]
    made = t.request("POST", "/api/admin/services", cookies=owner.cookies,
                     headers={"host": seeds.host},
                     json_body={"name": "Fuzz bookings", "price_cents": 1000,
                                "slug": f"fuzz-bookings-{uuid.uuid4().hex[:6]}",
                                "duration_minutes": 60})  # fmt: skip
    assert made.status == 201, f"the fuzz's own service: {made.status} {made.body}"
    first = datetime.now(UTC).date() + timedelta(days=2)
    open_ = t.request("GET", "/api/admin/availability", cookies=owner.cookies,
                      headers={"host": seeds.host},
                      params={"service_id": made.body["id"], "from": first.isoformat(),
                              "to": (first + timedelta(days=27)).isoformat(),
                              "assignee_id": staff.user_id})  # fmt: skip
    assert open_.status == 200, f"availability: {open_.status} {open_.body}"
    slots: list[dict[str, str]] = []
    free_from = datetime.min.replace(tzinfo=UTC)
    for slot in open_.body["slots"]:
        starts, ends = (datetime.fromisoformat(slot[k]) for k in ("starts_at", "ends_at"))
        if starts >= free_from:
            # Two hours between one slot's end and the next: no overlap, any buffer kept.
            free_from = ends + timedelta(hours=2)
            slots.append({"service_id": made.body["id"], "assignee_id": staff.user_id,
                          "starts_at": slot["starts_at"], "ends_at": slot["ends_at"]})  # fmt: skip
    wanted = sum(len(ROLES) * MAX_EXAMPLES for _ in BOOKS_A_SLOT)
    assert len(slots) >= wanted, f"only {len(slots)} free slots for {wanted} bookings"
    return slots


SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _upstream_down(label: str, response: Any) -> bool:
    expected = UPSTREAM_DOWN.get(label)
    if expected is None or response.status_code != expected[0]:
        return False
    try:
        return bool(response.json()["error"]["code"] == expected[1])
    except (ValueError, KeyError, TypeError):
        return False


@dataclass
class Tally:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def share_2xx(self, label: str) -> float:
        seen = self.statuses.get(label, Counter())
        total = sum(seen.values())
        return sum(n for s, n in seen.items() if 200 <= s < 300) / total if total else 0.0


def fuzz_operation(operation: Any, seeds: Seeds, role: str, tally: Tally) -> None:
    """Hypothesis over one operation's generated cases as ``role``; raises on failure."""
    label = f"{operation.method.upper()} {operation.path}"
    op = next(o for o in seeds.spec.operations if o.key == label)
    actor = seeds.actors[role]
    ids = seeds.path_ids(op, role)
    fresh = seeds.path_ids(op, role, fresh_only=True)
    counts = tally.statuses.setdefault(label, Counter())
    props = seeds.spec.resolve(op.body_schema).get("properties", {}) if op.body_schema else {}
    files = [n for n, sub in props.items() if "binary" in str(seeds.spec.resolve(sub))]
    resource = path_resource(op.path)
    creation = op.method == "POST" and not op.path_params and resource is not None
    creates = REPLACES.get(label) or (canonical(resource) if creation and resource else None)
    enums = {
        name: options
        for name, sub in props.items()
        if len(options := seeds.spec.resolve(sub).get("enum") or []) > 1
    }

    # Every other example is valid (built by the probe's builder), the rest generated:
    # counted here, not drawn, so the share does not depend on Hypothesis' choices.
    nth = itertools.count()

    @SETTINGS
    @given(case=operation.as_strategy(), data=st.data())
    def run(case: Any, data: Any) -> None:
        valid = next(nth) % 2 == 0
        for name, values in ids.items():
            # A valid example takes a record the fuzzing made when there is one: still
            # in its first state for a transition (harvested bookings are mostly done).
            pool = fresh.get(name) if valid and fresh.get(name) else values
            case.path_parameters[name] = data.draw(st.sampled_from(pool), label=name)
        if (op.body_kind == "json" or op.query_params) and valid:
            built = seeds.valid(op, actor)
            if op.body_kind == "json":
                case.body = built.body
                # The builder takes an enum's first value (a work order's status
                # 'open', which an open work order cannot become): any of them here.
                for name, options in enums.items():
                    if isinstance(case.body, dict) and name in case.body:
                        case.body[name] = data.draw(st.sampled_from(options), label=name)
            # Only the valid query: a generated extra (a 'to' a year on) makes it invalid.
            case.query = dict(built.query)
        if op.body_kind == "multipart" and valid:
            # Files of a type the tenant accepts, with content of that type (the upload
            # sniffs it: generated bytes are rarely UTF-8 text), so uploads get past the
            # type check.
            case.multipart_content_types = dict.fromkeys(files, "text/plain")
            if isinstance(case.body, dict):
                case.body.update(dict.fromkeys(files, b"fuzzed text file\n"))
        response = case.call(cookies=actor.cookies, headers={"host": seeds.host})
        counts[response.status_code] += 1
        if response.status_code == 201 and creates is not None:
            made = _id_of(response)
            if made is not None:
                seeds.created.setdefault(creates, []).insert(0, made)
        checks = [not_a_server_error, response_schema_conformance]
        if _upstream_down(label, response):
            checks = [response_schema_conformance]
        case.validate_response(response, checks=checks)

    run()


def _id_of(response: Any) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    made = body.get("id") if isinstance(body, dict) else None
    return str(made) if made else None


def fuzz_order(label: str) -> int:
    """Operations that take something away run after every other: a DELETE leaves the
    ids it was given dead for later operations on them (the posts deleted before
    publish/unpublish and the public page ran answered 404 there), and ``RUN_LAST``
    changes what every later request may do."""
    if label in RUN_LAST:
        return 2
    return 1 if label.startswith("DELETE ") else 0


# A 201 of these is a new record replacing the one named in the path (a resend makes a
# new invitation; the old one's link dies): later operations get the new one.
REPLACES = {"POST /api/admin/invitations/{invitation_id}/resend": "invitation"}

# Fuzzed last of all, and why.
RUN_LAST = {
    "PUT /api/admin/permissions/{role}": "replaces a role's permission list with a "
    "generated one: the fuzzing staff member was refused (403) on every operation after it",
    "PUT /api/admin/booking-settings": "generated opening hours, notice and advance "
    "close the free slots the booking bodies were given",
}


def fuzz_all(schema: Any, seeds: Seeds, *, only: set[str] | None = None) -> Tally:
    tally = Tally()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda o: fuzz_order(f"{o.method.upper()} {o.path}"))  # stable
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        if label in NOT_FUZZED or (only is not None and label not in only):
            continue
        op = next(o for o in seeds.spec.operations if o.key == label)
        for role in ROLES:
            if op.scope == "tenant" and not op.allows(role):
                continue  # refused by role: the attack engine covers every such pairing
            try:
                fuzz_operation(operation, seeds, role, tally)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group
                tally.failures[f"{label} as {role}"] = f"{type(exc).__name__}: {exc}"[:1500]
    return tally


def note_fuzz_exemptions(tally: Tally) -> None:
    for label, reason in NOT_FUZZED.items():
        note_exemption("fuzz", f"{label} not fuzzed: {reason}")
    for label, seen in sorted(tally.statuses.items()):
        share = tally.share_2xx(label)
        if label in FEW_2XX and share < min_share(label):
            shares = f"{share:.0%} 2xx of {dict(sorted(seen.items()))}"
            note_exemption("fuzz", f"{label} {shares}: {FEW_2XX[label]}")


def too_few_2xx(tally: Tally) -> dict[str, str]:
    return {
        label: f"{tally.share_2xx(label):.0%} 2xx of {dict(sorted(seen.items()))}"
        for label, seen in tally.statuses.items()
        if label not in FEW_2XX and tally.share_2xx(label) < min_share(label)
    }


# A transition succeeds once per record (a reminder is cancelled once; the next example
# on it is a 409): for these one 2xx is the success path reached, and no share is asked.
_ONCE_PER_RECORD = re.compile(r"POST /\S+\}/(approve|assign|cancel|mark-paid|publish|"
                              r"reschedule|resend|send|status|unpublish)")  # fmt: skip


def min_share(label: str) -> float:
    return 1e-9 if _ONCE_PER_RECORD.fullmatch(label) else MIN_2XX_SHARE


@pytest.fixture(scope="module")
def fuzz_world(db) -> World:  # type: ignore[no-untyped-def]
    from tests.isolation.world import make_world

    return make_world(db)


@pytest.mark.slow
def test_no_server_error_every_body_matches_and_every_operation_succeeds(app, settings, fuzz_world):  # type: ignore[no-untyped-def]
    seeds = seed(app, fuzz_world, settings)
    tally = fuzz_all(schemathesis.openapi.from_asgi("/openapi.json", app), seeds)
    low = too_few_2xx(tally)
    note_fuzz_exemptions(tally)
    print(f"\nfuzzed {len(tally.statuses)} operations as {', '.join(ROLES)}, "
          f"{MAX_EXAMPLES} examples at most per operation and role")  # fmt: skip
    for label, seen in sorted(tally.statuses.items()):
        print(f"  {label:60} {tally.share_2xx(label):4.0%} 2xx  {dict(sorted(seen.items()))}")
    assert len(tally.statuses) >= 90
    assert not tally.failures, "schemathesis failures:\n" + "\n".join(
        f"{k}: {v}" for k, v in tally.failures.items()
    )
    assert not low, f"operations under {MIN_2XX_SHARE:.0%} 2xx:\n" + "\n".join(
        f"{k}: {v}" for k, v in sorted(low.items())
    )


@pytest.mark.slow
def test_a_fuzz_run_with_authentication_broken_fails(db, settings, fuzz_world):  # type: ignore[no-untyped-def]
    """The sanity run: tenant authentication answers 401 to everything. Seeds come from
    the working app; the fuzzing itself runs against the broken one and must fail."""
    good = create_app(settings, db)
    seeds = seed(good, fuzz_world, settings)
    broken = create_app(settings, db)

    def refuse_everyone() -> None:
        raise NotAuthenticated()

    broken.dependency_overrides[require_tenant] = refuse_everyone
    sample = {"GET /api/admin/bookings", "GET /api/portal/bookings", "POST /api/admin/services",
              "GET /api/admin/services/{service_id}"}  # fmt: skip
    tally = fuzz_all(schemathesis.openapi.from_asgi("/openapi.json", broken), seeds, only=sample)
    assert set(tally.statuses) == sample
    assert set(too_few_2xx(tally)) == sample, "broken authentication went unnoticed"

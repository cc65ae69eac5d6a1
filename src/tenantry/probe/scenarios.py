"""The closing scenarios: nested routes without their parent's read permission
(``nested``), oversized bodies on every route (``bodies``), signing in to B with A's
credentials, pulling B's owner into A (``joining``), and replaying cookies that should
be dead — after the tenant was suspended, after ``logout`` (of that browser), after
``logout-all`` and after the membership was removed.

They run after the sweep because they end sessions the sweep relies on.
"""

from __future__ import annotations

import secrets
import uuid

from tenantry.probe.bodies import oversized_bodies
from tenantry.probe.config import AS_SIGNED_IN
from tenantry.probe.http import Actor, LoginFailed, Sent
from tenantry.probe.joining import account_joining
from tenantry.probe.nested import nested_permissions
from tenantry.probe.oracle import outcome, same_outcome
from tenantry.probe.report import (
    DISTINGUISHABLE,
    LEAK_BODY,
    NOT_REFUSED,
    SCENARIO_NOT_RUN,
    WRONG_MEMBERSHIP,
)
from tenantry.probe.requests import param_resource
from tenantry.probe.spec import Operation, fill_path
from tenantry.probe.state import RunState
from tenantry.probe.success import created_id
from tenantry.probe.values import STYLES, Slot

LOGIN = "POST /api/auth/login"
CURRENT = "GET /api/tenant/current"


def run_scenarios(run: RunState) -> None:
    if not run.cfg.scenarios:
        run.report.notes.append("closing scenarios not run (configured off)")
        return
    # Before the scenarios that end sessions: these need A's owner and staff signed in.
    nested_permissions(run)
    oversized_bodies(run)
    login_to_other_tenant(run)
    idempotency_across_users(run)
    replay_after_suspension(run)
    account_joining(run)
    replay_after_logout(run)
    replay_after_membership_removal(run)
    replay_after_logout_all(run)


def check_memberships(run: RunState) -> set[str]:
    """Each configured membership, signed in: the role the API reports in that tenant
    (sign-in answer and ``/api/tenant/current``), or a refusal where there must be one.
    Returns the user ids it saw, which the sweep must never change (a probe that
    promoted one of them would fail the next run's check, not this wall)."""
    name = "role-per-tenant"
    seen: set[str] = set()
    for check in run.cfg.role_checks:
        who = f"{check.creds.label} in {check.creds.tenant}"
        try:
            actor = run.t.login(check.creds)
        except LoginFailed as exc:
            run.report.scenario_probes[name] += 1
            if check.role is not None:
                run.finding(WRONG_MEMBERSHIP, LOGIN, name, who, f"cannot sign in: {exc}")
            continue
        seen.add(actor.user_id)
        current = run.t.request("GET", "/api/tenant/current", cookies=actor.cookies)
        run.report.scenario_probes[name] += 2
        body = current.body if isinstance(current.body, dict) else {}
        reported = (actor.role, body.get("role") if current.status == 200 else None)
        expected = actor.role if check.role == AS_SIGNED_IN else check.role
        if check.role is None:
            if current.status not in (401, 403):
                detail = f"must be refused; /api/tenant/current → {outcome(current)} {reported}"
                run.finding(WRONG_MEMBERSHIP, CURRENT, name, who, detail, current)
        elif reported != (expected, expected):
            detail = f"expected role {expected!r}; sign-in said {reported[0]!r}, "
            detail += f"/api/tenant/current → {outcome(current)} {reported[1]!r}"
            run.finding(WRONG_MEMBERSHIP, CURRENT, name, who, detail, current)
    return seen


def seed_other_client(run: RunState) -> int:
    """A's other client makes records of its own through the portal (a booking, a request…)
    before the harvest, so the first client always has someone else's records to try —
    a demo or a world where that client owns nothing would prove nothing."""
    other = run.a.get(run.cfg.other_client)
    made = 0
    if other is None:
        return made
    portal = [
        op
        for op in run.tenant_ops()
        if op.method == "POST" and op.allows("client") and op.path.startswith("/api/portal/")
    ]
    created: dict[str, str] = {}  # collection path -> a record made there
    for op in [op for op in portal if not op.path_params]:
        for style in STYLES[:2]:
            sent = run.requests.send(other, run.requests.build(op, other, style))
            if 200 <= sent.status < 300:
                made += 1
                record = created_id(sent.body, op)
                if record is not None:
                    created[op.path] = record
                break
    # Then what hangs from those records (a file on the request, a chat message): the
    # child collections, i.e. ``<collection>/{id}/<child>`` that can also be listed.
    listed = {op.path for op in run.spec.operations if op.method == "GET"}
    for op in [op for op in portal if len(op.path_params) == 1 and op.path in listed]:
        parent = op.path[: op.path.index("{")].rstrip("/")
        if parent not in created:
            continue
        req = run.requests.build(op, other, STYLES[0])
        req = req.with_slot(Slot("path", op.path_params[0].name, None), created[parent])
        if 200 <= run.requests.send(other, req).status < 300:
            made += 1
    return made


def login_to_other_tenant(run: RunState) -> None:
    """A's password with B named (by slug, by host) must not sign in — and must look
    like naming a tenant that does not exist."""
    name = "login-to-other-tenant"
    b_slug = run.cfg.b.slug
    for label in run.cfg.login_scenario_roles:
        actor = run.a.get(label)
        if actor is None:
            continue
        attempts = [
            ({"tenant": b_slug}, None),
            ({"tenant": f"probe-{secrets.token_hex(4)}"}, None),
            ({}, {"host": run.t.tenant_host(b_slug)}),
        ]
        results: list[Sent] = []
        for extra, headers in attempts:
            body = {"email": actor.creds.email, "password": actor.creds.password, **extra}
            sent = run.t.request("POST", "/api/auth/login", json_body=body, headers=headers)
            run.report.scenario_probes[name] += 1
            results.append(sent)
            hits = run.markers_b.found_in(sent)
            if hits:
                run.finding(
                    LEAK_BODY, LOGIN, name, actor.label, f"carries B's data: {hits[:5]}", sent
                )
        for sent, what in ((results[0], "tenant=B"), (results[2], "B's host")):
            if sent.status == 200:
                run.finding(
                    NOT_REFUSED, LOGIN, f"{name} ({what})", actor.label, "signed in to B", sent
                )
        if not same_outcome(results[0], results[1]):
            detail = f"B → {outcome(results[0])}; unknown → {outcome(results[1])}"
            run.finding(
                DISTINGUISHABLE, LOGIN, f"{name} (tenant=B vs unknown slug)", actor.label, detail,
                results[0],
            )  # fmt: skip


def replay(
    run: RunState, name: str, actor: Actor, stale: dict[str, str], *, code: str | None = None
) -> None:
    """Every tenant route with cookies that should be dead: 401/403 (with ``code``, when
    given, as the error code), nothing else."""
    for op in run.tenant_ops():
        req = run.requests.build(op, actor, run.style_for(op))
        if op.mutating:
            # Should stale cookies be accepted after all, hit nothing real.
            for slot in req.slots:
                req = req.with_slot(slot, str(uuid.uuid4()))
        run.report.scenario_probes[name] += 1
        sent = run.requests.send(actor, req, cookies=stale)
        run.report.route(op.key, op.scope).statuses[sent.status] += 1
        if sent.status not in (401, 403) or (code is not None and sent.code != code):
            run.finding(
                NOT_REFUSED, op.key, name, actor.label, f"stale cookies got {outcome(sent)}", sent
            )


SUSPENDERS = ("owner", "client")  # between them, every tenant route's roles


def replay_after_suspension(run: RunState) -> None:
    """A platform operator suspends A through the operator API while A's members are
    signed in; the sessions they opened before must get ``403 tenant_suspended`` on every
    tenant route (sign-in refuses a suspended tenant anyway, so only a session opened
    before shows whether each request checks), and so must a new sign-in. A is then
    reactivated, and its owner's session works again."""
    name = "replay-after-suspension"
    if run.cfg.operator is None:
        run.report.notes.append(f"{name}: skipped — no platform operator configured")
        return
    suspend, reactivate = _operator_op(run, "suspend"), _operator_op(run, "reactivate")
    if suspend is None or reactivate is None:
        _not_run(run, name, "no operator suspend/reactivate operation in the document")
        return
    try:
        operator = run.t.login(run.cfg.operator)
    except LoginFailed as exc:
        _not_run(run, name, f"the operator cannot sign in: {exc}")
        return
    slug = run.cfg.a.slug
    why = {"reason": "isolation probe: A's open sessions must be refused while suspended"}
    victims = [run.a[label] for label in SUSPENDERS if label in run.a]
    done = _operator_call(run, name, suspend, slug, operator, why)
    if done.status != 200:
        _not_run(run, name, f"the operator could not suspend {slug}: {outcome(done)}")
        return
    try:
        for actor in victims:
            replay(run, name, actor, actor.cookies, code="tenant_suspended")
        for actor in victims[:1]:
            body = {"email": actor.creds.email, "password": actor.creds.password, "tenant": slug}
            sent = run.t.request("POST", "/api/auth/login", json_body=body)
            run.report.scenario_probes[name] += 1
            if sent.status == 200:
                detail = "signed in to a suspended tenant"
                run.finding(NOT_REFUSED, LOGIN, name, actor.label, detail, sent)
    finally:
        back = _operator_call(run, name, reactivate, slug, operator, why)
    if back.status != 200:
        _not_run(run, name, f"the operator could not reactivate {slug}: {outcome(back)}")
        return
    for actor in victims[:1]:
        again = run.t.request("GET", "/api/tenant/current", cookies=actor.cookies)
        run.report.scenario_probes[name] += 1
        if again.status != 200:
            run.report.notes.append(f"{name}: after reactivation {outcome(again)}")


def _operator_op(run: RunState, action: str) -> Operation | None:
    """The system-scope POST ``…/{slug}/<action>`` of the operator API."""
    for op in run.spec.operations:
        if (
            op.method == "POST"
            and op.scope == "system"
            and len(op.path_params) == 1
            and op.path.endswith("}/" + action)
        ):
            return op
    return None


def _operator_call(
    run: RunState, name: str, op: Operation, slug: str, operator: Actor, body: dict[str, str]
) -> Sent:
    path = fill_path(op.path, {op.path_params[0].name: slug})
    run.report.scenario_probes[name] += 1
    return run.t.request("POST", path, cookies=operator.cookies, json_body=body)


def _not_run(run: RunState, name: str, why: str) -> None:
    run.finding(SCENARIO_NOT_RUN, name, name, "-", why)


# Whom the logout scenarios sign out: the least privileged member of A (keeping the
# owner for the scenarios that need one).
_SIGN_OUT_ORDER = ("staff", "admin", "client", "owner")


def _two_browsers_one_signs_out(
    run: RunState, name: str, path: str, label: str | None = None
) -> tuple[str, Actor, Actor] | None:
    """A member of A (``label``, else the first of ``_SIGN_OUT_ORDER``) signs in twice;
    the first browser then POSTs ``path``. The label and both browsers, or None (with a note) when
    there is no one to sign out or a sign-in or the sign-out failed."""
    label = label or next((k for k in _SIGN_OUT_ORDER if k in run.a), None)
    if label is None or label not in run.a:
        run.report.notes.append(f"{name}: skipped, no identity of A left to sign out")
        return None
    try:
        leaving = run.t.login(run.a[label].creds)
        staying = run.t.login(run.a[label].creds)
    except LoginFailed as exc:
        run.report.notes.append(f"{name}: skipped, cannot sign in: {exc}")
        return None
    out = run.t.request("POST", path, cookies=leaving.cookies)
    run.report.scenario_probes[name] += 1
    if out.status != 200:
        run.report.notes.append(f"{name}: {path.rsplit('/', 1)[-1]} answered {outcome(out)}")
        return None
    return label, leaving, staying


def replay_after_logout(run: RunState) -> None:
    """A browser signs out; a copy of its cookies saved before must be dead on every
    tenant route, while the same member's other browser stays signed in."""
    name = "replay-after-logout"
    browsers = _two_browsers_one_signs_out(run, name, "/api/auth/logout")
    if browsers is None:
        return
    _, leaving, staying = browsers
    replay(run, name, leaving, leaving.cookies)
    still = run.t.request("GET", "/api/tenant/current", cookies=staying.cookies)
    run.report.scenario_probes[name] += 1
    if still.status != 200:  # not a breach, but logout overreached: say so
        run.report.notes.append(
            f"{name}: the member's other browser was signed out too ({outcome(still)})"
        )


def replay_after_logout_all(run: RunState) -> None:
    """Two browsers of one member; one signs out everywhere; both sets of cookies die."""
    name = "replay-after-logout-all"
    browsers = _two_browsers_one_signs_out(run, name, "/api/auth/logout-all", run.cfg.logout_victim)
    if browsers is None:
        return
    label, leaving, other = browsers
    replay(run, name, other, other.cookies)
    replay(run, name + " (the signing-out browser's own cookies)", leaving, leaving.cookies)
    del run.a[label]


def replay_after_membership_removal(run: RunState) -> None:
    """A member of A is removed by A's owner (through the API over HTTP, or the data
    adapter in-process); the cookies the member still holds must die at once."""
    name = "replay-after-membership-removal"
    if run.cfg.leaver is None:
        run.report.notes.append(f"{name}: skipped — no leaver identity configured")
        return
    leaver = run.t.login(run.cfg.leaver)
    if run.adapter is not None:
        run.adapter.remove_membership(leaver.tenant_id, leaver.user_id)
    elif not _remove_through_api(run, leaver):
        _not_run(run, name, "A's owner could not remove the leaver through the API")
        return
    replay(run, name, leaver, leaver.cookies)


def _remove_through_api(run: RunState, leaver: Actor) -> bool:
    """A's owner removes ``leaver`` with the API's own member-removal operation: the
    tenant-scoped DELETE whose only path parameter names a user."""
    owner = run.a.get("owner")
    for op in run.spec.operations:
        params = op.path_params
        if op.method != "DELETE" or op.scope != "tenant" or len(params) != 1:
            continue
        if param_resource(op, params[0].name) != "user" or owner is None:
            continue
        sent = run.t.request(
            "DELETE", fill_path(op.path, {params[0].name: leaver.user_id}), cookies=owner.cookies
        )
        run.report.scenario_probes["replay-after-membership-removal"] += 1
        return sent.status < 300
    return False


def idempotency_across_users(run: RunState) -> None:
    """A stored idempotent answer belongs to the user who got it: A's other client sends
    a request with an ``Idempotency-Key``, then the first client sends the same request
    with the same key — it must not get the other client's stored answer."""
    name = "idempotency-key-of-another-user"
    first, other = run.a.get(run.cfg.client), run.a.get(run.cfg.other_client)
    if first is None or other is None:
        run.report.notes.append(f"{name}: skipped — needs two clients of A")
        return
    for op in run.tenant_ops():
        if op.method != "POST" or op.path_params or not op.allows("client"):
            continue
        req = run.requests.build(op, other, run.style_for(op))
        key = {"idempotency-key": f"probe-{secrets.token_hex(8)}"}
        theirs = run.requests.send(other, req, headers=key)
        if not 200 <= theirs.status < 300 or not isinstance(theirs.body, dict):
            continue
        mine = run.requests.send(first, req, headers=key)
        run.report.scenario_probes[name] += 2
        created = theirs.body.get("id")
        replayed = isinstance(mine.body, dict) and mine.body.get("id") == created
        if isinstance(created, str) and replayed:
            detail = f"got the other client's stored answer (record {created})"
            run.finding(LEAK_BODY, op.key, name, first.label, detail, mine)

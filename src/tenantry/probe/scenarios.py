"""The closing scenarios: signing in to B with A's credentials, and replaying cookies
that should be dead — after ``logout-all`` and after the membership was removed.

They run after the sweep because they end sessions the sweep relies on.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from tenantry.probe.http import Actor, LoginFailed, Sent
from tenantry.probe.oracle import outcome, same_outcome
from tenantry.probe.report import DISTINGUISHABLE, LEAK_BODY, NOT_REFUSED

if TYPE_CHECKING:
    from tenantry.probe.engine import Engine

LOGIN = "POST /api/auth/login"


def run_scenarios(engine: Engine) -> None:
    if not engine.cfg.scenarios:
        engine.report.notes.append("closing scenarios not run (configured off)")
        return
    login_to_other_tenant(engine)
    replay_after_membership_removal(engine)
    replay_after_logout_all(engine)


def login_to_other_tenant(engine: Engine) -> None:
    """A's password with B named (by slug, by host) must not sign in — and must look
    like naming a tenant that does not exist."""
    name = "login-to-other-tenant"
    b_slug = engine.cfg.b.slug
    for label in engine.cfg.login_scenario_roles:
        actor = engine.a.get(label)
        if actor is None:
            continue
        attempts = [
            ({"tenant": b_slug}, None),
            ({"tenant": f"probe-{secrets.token_hex(4)}"}, None),
            ({}, {"host": engine.t.tenant_host(b_slug)}),
        ]
        results: list[Sent] = []
        for extra, headers in attempts:
            body = {"email": actor.creds.email, "password": actor.creds.password, **extra}
            sent = engine.t.request("POST", "/api/auth/login", json_body=body, headers=headers)
            engine.report.scenario_probes[name] += 1
            results.append(sent)
            hits = engine.markers_b.found_in(sent)
            if hits:
                engine.finding(
                    LEAK_BODY, LOGIN, name, actor.label, f"carries B's data: {hits[:5]}", sent
                )
        for sent, what in ((results[0], "tenant=B"), (results[2], "B's host")):
            if sent.status == 200:
                engine.finding(
                    NOT_REFUSED, LOGIN, f"{name} ({what})", actor.label, "signed in to B", sent
                )
        if not same_outcome(results[0], results[1]):
            detail = f"B → {outcome(results[0])}; unknown → {outcome(results[1])}"
            engine.finding(
                DISTINGUISHABLE, LOGIN, f"{name} (tenant=B vs unknown slug)", actor.label, detail,
                results[0],
            )  # fmt: skip


def replay(engine: Engine, name: str, actor: Actor, stale: dict[str, str]) -> None:
    """Every tenant route with cookies that should be dead: 401/403, nothing else."""
    for op in engine.tenant_ops():
        req = engine.requests.build(op, actor, engine.style_for(op))
        if op.mutating:
            # Should stale cookies be accepted after all, hit nothing real.
            for slot in req.slots:
                req = req.with_slot(slot, str(uuid.uuid4()))
        engine.report.scenario_probes[name] += 1
        sent = engine.requests.send(actor, req, cookies=stale)
        engine.report.route(op.key, op.scope).statuses[sent.status] += 1
        if sent.status not in (401, 403):
            engine.finding(
                NOT_REFUSED, op.key, name, actor.label, f"stale cookies got {outcome(sent)}", sent
            )


def replay_after_logout_all(engine: Engine) -> None:
    """Two browsers of one member; one signs out everywhere; both sets of cookies die."""
    name = "replay-after-logout-all"
    label = engine.cfg.logout_victim or next(
        (k for k in ("staff", "admin", "client", "owner") if k in engine.a), None
    )
    if label is None or label not in engine.a:
        engine.report.notes.append(f"{name}: skipped, no identity of A left to sign out")
        return
    victim = engine.a[label]
    try:
        kept = engine.t.login(victim.creds)
        other = engine.t.login(victim.creds)
    except LoginFailed as exc:
        engine.report.notes.append(f"{name}: skipped, cannot sign in: {exc}")
        return
    out = engine.t.request("POST", "/api/auth/logout-all", cookies=other.cookies)
    engine.report.scenario_probes[name] += 1
    if out.status != 200:
        engine.report.notes.append(f"{name}: logout-all answered {outcome(out)}")
        return
    replay(engine, name, kept, kept.cookies)
    replay(engine, name + " (the signing-out browser's own cookies)", other, other.cookies)
    del engine.a[label]


def replay_after_membership_removal(engine: Engine) -> None:
    name = "replay-after-membership-removal"
    if engine.adapter is None:
        engine.report.notes.append(
            f"{name}: skipped — removing a membership needs the data adapter (in-process); "
            "no generic API for it is assumed"
        )
        return
    if engine.cfg.leaver is None:
        engine.report.notes.append(f"{name}: skipped — no leaver identity configured")
        return
    leaver = engine.t.login(engine.cfg.leaver)
    engine.adapter.remove_membership(leaver.tenant_id, leaver.user_id)
    replay(engine, name, leaver, leaver.cookies)

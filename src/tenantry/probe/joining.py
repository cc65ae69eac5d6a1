"""The account-joining scenario: identity is global, trust is per tenant.

A member of A who may invite tries to pull B's owner into A, and someone on A's host
signs up with B's owner's address. Safe means:

* the invitation's answer for B's owner's address is the answer for an address nobody
  has (same status, same fields, same values but the address, id and times), and
  carries nothing of B's — no name, no user id;
* sign-up answers the same for B's owner's address as for a fresh one;
* afterwards B's owner is still nobody in A (signing in to A is refused; A's team list
  does not show them) and still signs in to B with their own password.

The invitations made are revoked at the end. Routes a server does not have (an older
version) make the scenario a note, not a failure.
"""

from __future__ import annotations

import secrets
from typing import Any

from tenantry.probe.http import Actor, Sent
from tenantry.probe.oracle import outcome
from tenantry.probe.report import DISTINGUISHABLE, LEAK_BODY, NOT_REFUSED
from tenantry.probe.state import RunState

NAME = "account-joining"
INVITES = "/api/admin/invitations"
REGISTER = "/api/auth/register"
VOLATILE = frozenset({"id", "email", "created_at", "expires_at"})


def account_joining(run: RunState) -> None:
    paths = {op.path for op in run.spec.operations}
    if INVITES not in paths or REGISTER not in paths:
        run.report.notes.append(f"{NAME}: skipped, the server has no {INVITES} / {REGISTER}")
        return
    inviter = next((run.a[k] for k in ("owner", "admin") if k in run.a), None)
    target = run.cfg.b.members.get("owner")
    if inviter is None or target is None:
        run.report.notes.append(f"{NAME}: skipped, needs A's owner or admin and B's owner")
        return
    fresh = f"probe-{secrets.token_hex(6)}@probe.invalid"
    made = _compare(
        run, inviter, "POST " + INVITES,
        [{"email": target.email, "role": "admin"}, {"email": fresh, "role": "admin"}],
        lambda body: run.t.request("POST", INVITES, json_body=body, cookies=inviter.cookies),
    )  # fmt: skip
    password = "probe-" + secrets.token_hex(8)
    host = {"host": run.t.tenant_host(run.cfg.a.slug)}
    _compare(
        run, inviter, "POST " + REGISTER,
        [{"email": target.email, "password": password},
         {"email": f"probe-{secrets.token_hex(6)}@probe.invalid", "password": password}],
        lambda body: run.t.request("POST", REGISTER, json_body=body, headers=host),
    )  # fmt: skip
    _b_owner_is_still_nobody_in_a(run, inviter)
    for invitation_id in made:
        run.t.request("DELETE", f"{INVITES}/{invitation_id}", cookies=inviter.cookies)


def _compare(
    run: RunState, actor: Actor, route: str, bodies: list[dict[str, str]], send: Any
) -> list[str]:
    """Send the request naming B's owner and the one naming nobody; they must match."""
    results: list[Sent] = []
    for body in bodies:
        sent: Sent = send(body)
        run.report.scenario_probes[NAME] += 1
        results.append(sent)
        hits = run.markers_b.found_in(sent)
        if hits:
            run.finding(LEAK_BODY, route, NAME, actor.label, f"carries B's data: {hits[:5]}", sent)
    b_owner, nobody = results
    if _shape(b_owner) != _shape(nobody):
        detail = f"B's owner → {outcome(b_owner)} {_shape(b_owner)}; nobody → {_shape(nobody)}"
        run.finding(DISTINGUISHABLE, route, f"{NAME} (B's owner vs nobody)", actor.label, detail,
                    b_owner)  # fmt: skip
    return [
        str(s.body["id"])
        for s in results
        if s.status in (200, 201) and isinstance(s.body, dict) and "id" in s.body
    ]


def _shape(sent: Sent) -> tuple[int, str]:
    body = sent.body
    if isinstance(body, dict) and "error" not in body:
        body = {k: v for k, v in body.items() if k not in VOLATILE}
    elif isinstance(body, dict):
        body = {"code": body["error"].get("code")}
    return sent.status, repr(sorted(body.items()) if isinstance(body, dict) else body)


def _b_owner_is_still_nobody_in_a(run: RunState, inviter: Actor) -> None:
    target = run.cfg.b.members["owner"]
    creds = {"email": target.email, "password": target.password}
    into_a = run.t.request("POST", "/api/auth/login", json_body={**creds, "tenant": run.cfg.a.slug})
    run.report.scenario_probes[NAME] += 1
    if into_a.status == 200:
        run.finding(NOT_REFUSED, "POST /api/auth/login", f"{NAME} (B's owner into A)",
                    "b.owner", "B's owner signed in to A after being invited", into_a)  # fmt: skip
    into_b = run.t.request("POST", "/api/auth/login", json_body={**creds, "tenant": run.cfg.b.slug})
    run.report.scenario_probes[NAME] += 1
    if into_b.status != 200:
        run.report.notes.append(
            f"{NAME}: B's owner could not sign in to B afterwards ({outcome(into_b)})"
        )
    team = run.t.request("GET", "/api/admin/team-members", cookies=inviter.cookies)
    run.report.scenario_probes[NAME] += 1
    items = team.body.get("items", []) if isinstance(team.body, dict) else []
    if any(isinstance(i, dict) and i.get("email") == target.email.lower() for i in items):
        run.finding(NOT_REFUSED, "GET /api/admin/team-members", f"{NAME} (B's owner in A)",
                    inviter.label, "B's owner is a member of A without consent", team)  # fmt: skip

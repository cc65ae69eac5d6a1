"""``tenantry probe --target URL``: the isolation attack engine against a running server.

Signs in as members of two tenants (defaults fit the demo data: acme attacks globex),
tries every route and method of the server's OpenAPI document with the other tenant's
ids, host, headers and credentials, prints a summary table and exits non-zero on any
leak. Over HTTP, "did B's data change" is answered by B's own API reads before and
after; expired and forged-but-valid signatures need the server's keys
(``--signing-keys``) and are skipped without them; membership removal needs a leaver
(``--leaver``, removed by A's owner through the API) and tenant suspension a platform
operator (``--operator``) — each skipped without one (listed in the report).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

ROLES_A = ("owner", "admin", "staff", "client")
ROLES_B = ("owner", "client")


def _email(explicit: str | None, role: str, slug: str) -> str:
    return explicit or f"{role}@{slug}.test"


def probe_command(
    target: Annotated[
        str,
        typer.Option(
            help="Base URL of the server, e.g. http://127.0.0.1:8000.",
            envvar="TENANTRY_PROBE_TARGET",
        ),
    ],
    tenant_a: Annotated[str, typer.Option(help="Slug of the attacking tenant.")] = "acme",
    tenant_b: Annotated[str, typer.Option(help="Slug of the attacked tenant.")] = "globex",
    password: Annotated[
        str,
        typer.Option(
            help="Password of every identity unless --a-password/--b-password.",
            envvar="TENANTRY_PROBE_PASSWORD",
        ),
    ] = "tenantry-demo",  # noqa: S107 - the documented demo password
    a_password: Annotated[str | None, typer.Option(envvar="TENANTRY_PROBE_A_PASSWORD")] = None,
    b_password: Annotated[str | None, typer.Option(envvar="TENANTRY_PROBE_B_PASSWORD")] = None,
    a_owner: Annotated[str | None, typer.Option(help="Default owner@<a>.test.")] = None,
    a_admin: Annotated[str | None, typer.Option(help="Default admin@<a>.test.")] = None,
    a_staff: Annotated[str | None, typer.Option(help="Default staff@<a>.test.")] = None,
    a_client: Annotated[str | None, typer.Option(help="Default client@<a>.test.")] = None,
    a_client2: Annotated[
        str | None,
        typer.Option(help="A second client of A: the first must not reach its records."),
    ] = None,
    leaver: Annotated[
        str | None,
        typer.Option(
            help="A member of A whom A's owner removes at the end through the API; the "
            "member's cookies must die at once (the demo's consultant@demo.test will do)."
        ),
    ] = None,
    shared_member: Annotated[
        list[str] | None,
        typer.Option(
            help="A person who is a member of both tenants (repeatable): signed in to each, "
            "the API must report the same role everywhere as the sign-in did "
            "(the demo's consultant@demo.test is staff of acme, admin of globex)."
        ),
    ] = None,
    operator: Annotated[
        str | None,
        typer.Option(
            help="A platform operator's email (same password): suspends A through the "
            "operator API at the end — every tenant route must then answer A's open "
            "sessions 403 tenant_suspended — and reactivates it "
            "(`tenantry operator grant EMAIL` makes one)."
        ),
    ] = None,
    b_owner: Annotated[str | None, typer.Option(help="Default owner@<b>.test.")] = None,
    b_client: Annotated[str | None, typer.Option(help="Default client@<b>.test.")] = None,
    signing_keys: Annotated[
        str | None,
        typer.Option(
            help="The server's TENANTRY_SECRET_KEYS, to forge expired signatures.",
            envvar="TENANTRY_PROBE_SIGNING_KEYS",
        ),
    ] = None,
    base_domain: Annotated[str, typer.Option(help="Tenants live at <slug>.<base>.")] = "localhost",
    only: Annotated[
        list[str] | None,
        typer.Option(help="Probe only routes containing this text (repeatable)."),
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
    strict: Annotated[
        bool, typer.Option(help="Also fail on findings (distinguishable ids, unexercised routes).")
    ] = False,
    verbose: Annotated[bool, typer.Option(help="Print progress to stderr.")] = False,
) -> None:
    """Attack a running server as tenant A against tenant B; exit 1 on any leak."""
    import httpx

    from tenantry.probe import Config, Credentials, Engine, RoleCheck, Side
    from tenantry.probe.config import AS_SIGNED_IN
    from tenantry.probe.http import LoginFailed
    from tenantry.probe.report import DISTINGUISHABLE, SCENARIO_NOT_RUN, UNEXERCISED

    pw_a, pw_b = a_password or password, b_password or password
    given_a = {"owner": a_owner, "admin": a_admin, "staff": a_staff, "client": a_client}
    members_a = {
        role: Credentials(role, _email(given_a[role], role, tenant_a), pw_a, tenant_a)
        for role in ROLES_A
    }
    if a_client2:
        members_a["client2"] = Credentials("client2", a_client2, pw_a, tenant_a)
    given_b = {"owner": b_owner, "client": b_client}
    members_b = {
        role: Credentials(role, _email(given_b[role], role, tenant_b), pw_b, tenant_b)
        for role in ROLES_B
    }
    keys = (
        [k.strip().encode() for k in signing_keys.split(",") if k.strip()] if signing_keys else None
    )
    # Every identity named after a role must hold that role in its tenant, as the API
    # reports it (a member of both tenants must not carry one tenant's role into the other).
    role_checks = [
        RoleCheck(c, c.label)
        for c in [*members_a.values(), *members_b.values()]
        if c.label in ROLES_A
    ]
    for email in shared_member or []:
        role_checks += [
            RoleCheck(Credentials("shared", email, pw_a, tenant_a), AS_SIGNED_IN),
            RoleCheck(Credentials("shared", email, pw_b, tenant_b), AS_SIGNED_IN),
        ]
    config = Config(
        a=Side(tenant_a, members_a),
        role_checks=role_checks,
        b=Side(tenant_b, members_b),
        signing_keys=keys,
        leaver=Credentials("leaver", leaver, pw_a, tenant_a) if leaver else None,
        operator=Credentials("operator", operator, password, "") if operator else None,
        base_domain=base_domain,
        select=(lambda key: any(o in key for o in only)) if only else None,
        progress=(lambda line: print(line, file=sys.stderr, flush=True)) if verbose else None,
    )
    with httpx.Client(base_url=target.rstrip("/"), timeout=timeout) as client:
        engine = Engine(client, config, target=target)
        try:
            result = engine.run()
        except LoginFailed as exc:
            typer.echo(f"error: cannot sign in: {exc}", err=True)
            raise typer.Exit(2) from exc
        except httpx.HTTPError as exc:
            typer.echo(f"error: cannot reach {target}: {exc}", err=True)
            raise typer.Exit(2) from exc
    if not keys:
        result.notes.append(
            "expired-sig and valid-sig-naming-B probes skipped: no --signing-keys given"
        )
    else:
        result.notes.append("signing keys given: expired-sig and valid-sig-naming-B tried")
    typer.echo(result.summary())
    if report is not None:
        result.write(report)
        typer.echo(f"report written to {report}")
    if result.leaks:
        typer.echo(f"FAIL: {len(result.leaks)} leak(s)", err=True)
        raise typer.Exit(1)
    if strict and result.of_kind(DISTINGUISHABLE, UNEXERCISED, SCENARIO_NOT_RUN):
        typer.echo("FAIL (--strict): findings", err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: {result.probes} probes, no leak")

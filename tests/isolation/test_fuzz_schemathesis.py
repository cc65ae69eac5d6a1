"""Fuzzing every operation of ``/openapi.json`` as a signed-in owner of a tenant.

schemathesis generates requests from the published schema (in-process, through ASGI),
bounded to a few examples per operation so the whole module stays well under two
minutes. Two properties must hold for every answer: no 5xx, and a body that matches the
schema the operation documents for that status.

A real defect (a 500, a schema that cannot be validated) found in a route this suite does
not own is not fixed here: it is recorded in ``KNOWN_DEFECTS`` (operation → the failing
input and why); the test then xfails only when those are its *only* failures, so the
build stays green, every other operation stays checked, and the finding stays visible.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.conftest import login
from tests.factories import make_tenant

MAX_EXAMPLES = 12
# Operations not fuzzed, and why.
NOT_FUZZED = {
    "POST /api/auth/login": "each attempt is an argon2 hash (slow); covered by auth tests",
    "POST /api/auth/register": "creates accounts with an argon2 hash each; covered by auth tests",
    "POST /api/auth/logout-all": "would sign the fuzzing member out of every later request",
    "POST /api/auth/logout": "clears cookies only",
}
# 5xx answers that are the route's documented behaviour when an upstream this test does
# not run is unreachable — not server errors of ours: "METHOD /path" → (status, code).
UPSTREAM_DOWN = {
    "POST /api/admin/email/test": (502, "mail_unavailable"),  # no SMTP server in this run
}
# Real defects found by fuzzing in routes owned elsewhere (not fixed here):
# "METHOD /path" → what fails, on which input.
# (The BookingSettings tuple schema found here earlier is fixed.)
KNOWN_DEFECTS: dict[str, str] = {}


@pytest.fixture(scope="module")
def fuzz_schema(app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def member(app, db):  # type: ignore[no-untyped-def]
    """The owner of a tenant of its own: cookies and the tenant's host."""
    tenant = make_tenant(db)
    with TestClient(app) as client:
        login(client, tenant["owner"])
        cookies = dict(client.cookies)
    return {"cookies": cookies, "headers": {"host": f"{tenant.slug}.localhost"}}


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


def fuzz_operation(operation: Any, member: dict[str, Any]) -> None:
    """Hypothesis over one operation's generated cases; raises on the first failure."""
    label = f"{operation.method.upper()} {operation.path}"

    @SETTINGS
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(cookies=member["cookies"], headers=member["headers"])
        checks = [not_a_server_error, response_schema_conformance]
        if _upstream_down(label, response):
            checks = [response_schema_conformance]
        case.validate_response(response, checks=checks)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("group", ["operations", "operations-with-known-defects"])
def test_no_server_error_and_every_body_matches_its_schema(fuzz_schema, member, group):  # type: ignore[no-untyped-def]
    """Every operation (schemathesis' own pytest plugin does not run under this pytest),
    in two groups: the operations with a defect in ``KNOWN_DEFECTS`` are checked apart
    and xfail with their recorded reason; every other operation must pass."""
    known = group == "operations-with-known-defects"
    failures: dict[str, str] = {}
    fuzzed = 0
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in NOT_FUZZED or (label in KNOWN_DEFECTS) != known:
            continue
        fuzzed += 1
        try:
            fuzz_operation(operation, member)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group
            failures[label] = f"{type(exc).__name__}: {exc}"[:1500]
    print(f"\n{group}: fuzzed {fuzzed}, {MAX_EXAMPLES} examples at most each")
    for label, failure in failures.items():
        print(f"--- {label}\n{failure}")
    if known:
        if failures:
            pytest.xfail("; ".join(f"{k}: {KNOWN_DEFECTS[k]}" for k in failures))
        return
    assert fuzzed > 0
    assert not failures, "schemathesis failures:\n" + "\n".join(
        f"{k}: {v}" for k, v in failures.items()
    )

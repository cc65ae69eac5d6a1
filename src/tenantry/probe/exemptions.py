"""Every route the sweep does not probe, or may leave unexercised — in one place, each
with its reason. A route listed nowhere here must be exercised, or the run fails.

``SKIP``: not probed by the generic sweep at all (listed in the report as skipped).
``MAY_STAY_UNEXERCISED``: probed (every probe is still checked for leaks), but a run
where no baseline got a 2xx answer is not a failure. Every other route must be attacked
from its success path.

Patterns are ``"METHOD /path/template"`` with ``*`` matching within one segment and
``**`` matching anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Exemption:
    pattern: str
    reason: str

    def matches(self, key: str) -> bool:
        return _compile(self.pattern).fullmatch(key) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


SKIP: tuple[Exemption, ...] = (
    Exemption(
        "POST /api/auth/login",
        "the engine signs in through it for every identity; signing in to another "
        "tenant is the 'login-to-other-tenant' scenario",
    ),
    Exemption(
        "POST /api/auth/logout-all",
        "kills every session of the caller; exercised by the 'replay-after-logout-all' "
        "scenario at the end of the run",
    ),
    Exemption(
        "POST /api/auth/logout",
        "ends the caller's session; exercised by the 'replay-after-logout' scenario at "
        "the end of the run (a copy of the cookies saved before must be dead)",
    ),
)

MAY_STAY_UNEXERCISED: tuple[Exemption, ...] = (
    Exemption(
        "POST /api/auth/password",
        "changing a password needs the caller's current one, which generated bodies never "
        "hold (401 is the answer, for the caller's own account only); covered by "
        "tests/integration/api/test_accounts.py",
    ),
    Exemption(
        "* /api/payments/**",
        "the payment provider's webhook authenticates with its own HMAC signature, not a "
        "tenant session; without the provider secret every probe is refused — which is "
        "what the sweep checks (no leak, nothing of B changed)",
    ),
    Exemption(
        "* /api/system/**",
        "system scope: lifecycle/operator routes; a tenant member must be refused, which "
        "is what the sweep checks",
    ),
    Exemption(
        "GET /api/*/attachments/*/download",
        "a file is served only after the antivirus scanner's verdict (a system callback "
        "with its own shared secret); until then every download answers 409 scan_pending. "
        "Ownership is checked before that, so B's ids and another client's are still "
        "compared with random ones; tests/integration/api/test_attachments.py downloads "
        "scanned files",
    ),
    Exemption(
        "POST /api/admin/email/test",
        "sends a mail through the tenant's SMTP server, which the probe's run does not "
        "have (502 mail_unavailable); tests/integration/api/test_email.py sends through "
        "a real one",
    ),
    Exemption(
        "GET /static/**",
        "the web pages' own files (scripts, styles, the API docs' vendored assets) from a "
        "fixed allow-list, named by the pages, not by the API; no tenant data; "
        "tests/e2e/browser loads them",
    ),
    Exemption(
        "POST /api/auth/handoff",
        "redeems a one-time token that POST /api/tenant/handoff minted for this very host "
        "(tenant switch between tenant hosts); no probe has one, so every probe is refused "
        "(403 handoff_invalid) and still checked for leaks; tests/integration/"
        "test_handoff.py redeems real ones, on the wrong host, twice and after logout-all",
    ),
    Exemption(
        "POST /api/signup**",
        "self sign-up makes a new tenant of its own (no A or B data in it) and is off "
        "unless TENANTRY_SIGNUP_ENABLED is set (404 signup_disabled, as on the demo and "
        "the suite's app); every probe is still checked for leaks; "
        "tests/integration/lifecycle/test_signup.py signs up and verifies with it on",
    ),
    Exemption(
        "GET /healthz",
        "liveness only: carries no tenant data",
    ),
    Exemption(
        "POST /api/auth/verify-email",
        "redeems a signed, single-use token that only the e-mailed link carries (generated "
        "bodies are refused 400 invalid_token); every probe is still checked for leaks; "
        "tests/integration/api/test_accounts.py verifies through a real mailbox",
    ),
    Exemption(
        "POST /api/auth/password-reset/confirm",
        "redeems a signed, single-use token that only the e-mailed link carries; "
        "tests/integration/api/test_accounts.py resets through a real mailbox",
    ),
    Exemption(
        "POST /api/auth/invitations/**",
        "joining needs the invitation's e-mailed token or an invitation addressed to the "
        "caller; the 'account-joining' scenario and tests/integration/test_identity_attacks"
        ".py (the takeover chains) accept through a real mailbox",
    ),
    Exemption(
        "DELETE /api/admin/team-members/{user_id}",
        "a member joins only by accepting an invitation (consent), so the sweep has no "
        "fresh member of its own to remove; B's members are still refused (checked), and "
        "the 'replay-after-membership-removal' scenario and tests/integration/api/"
        "test_team.py remove members",
    ),
)


def skip_reason(key: str) -> str | None:
    return next((e.reason for e in SKIP if e.matches(key)), None)


def exempt_reason(key: str, scope: str | None) -> str | None:
    if scope == "system":
        return (
            "system scope: a tenant member's probes must be refused; being refused is the "
            "expected outcome"
        )
    return next((e.reason for e in MAY_STAY_UNEXERCISED if e.matches(key)), None)

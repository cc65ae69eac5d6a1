"""Mixed, forged and stale credentials for one request: the attacks on walls 1 and 2.

Every one of them must be refused (401/403/404) by a tenant-scoped route. Forging a
signature that *verifies* (expired, or naming B) needs the app's keys, so those two are
made only in-process; a signature made with a key the app does not hold (a "removed"
key) needs none.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace

from tenantry.isolation import signing
from tenantry.probe.http import SIG_COOKIE, Actor

# (probe kind, cookies to send, extra headers)
Forgery = tuple[str, dict[str, str], dict[str, str] | None]


def forged_credentials(
    actor: Actor,
    other: Actor,
    *,
    own_host: str,
    other_host: str,
    keys: Sequence[bytes] | None,
    max_age_s: int,
) -> Iterator[Forgery]:
    """``actor`` (a member of A) and ``other`` (a member of B) mixed every wrong way."""
    sig = actor.sig
    yield "host-of-B", actor.cookies, {"host": other_host}
    yield "B-session-on-A-host", other.cookies, {"host": own_host}
    yield "sig-of-B-with-session-of-A", actor.with_cookie(SIG_COOKIE, other.sig), None
    yield "sig-of-A-with-session-of-B", other.with_cookie(SIG_COOKIE, sig), None
    yield "no-sig", actor.with_cookie(SIG_COOKIE, None), None
    yield "tampered-sig", actor.with_cookie(SIG_COOKIE, tamper(sig)), None
    yield "truncated-sig", actor.with_cookie(SIG_COOKIE, sig[:-12]), None
    claim = parse_claim(sig)
    if claim is None:
        return
    removed = [b"removed-" + secrets.token_bytes(24)]
    yield "removed-key-sig", actor.with_cookie(SIG_COOKIE, resign(removed, claim)), None
    if not keys:
        return
    expired = resign(keys, replace(claim, issued_at=claim.issued_at - max_age_s - 3600))
    yield "expired-sig", actor.with_cookie(SIG_COOKIE, expired), None
    naming_b = replace(claim, tenant_id=uuid.UUID(other.tenant_id), issued_at=int(time.time()))
    yield "valid-sig-naming-B", actor.with_cookie(SIG_COOKIE, resign(keys, naming_b)), None


def tamper(sig: str) -> str:
    if not sig:
        return "v1.tampered"
    return sig[:-4] + ("AAAA" if not sig.endswith("AAAA") else "BBBB")


def parse_claim(sig: str) -> signing.TenantClaim | None:
    """The claim a ``tenant_sig`` carries, without verifying it."""
    parts = sig.split(".")
    if len(parts) != 6:
        return None
    try:
        return signing.TenantClaim(
            uuid.UUID(parts[1]), uuid.UUID(parts[2]), int(parts[3]), int(parts[4])
        )
    except ValueError:
        return None


def resign(keys: Sequence[bytes], claim: signing.TenantClaim) -> str:
    return signing.sign(
        keys,
        tenant_id=claim.tenant_id,
        user_id=claim.user_id,
        session_version=claim.session_version,
        issued_at=claim.issued_at,
    )

"""Deciding what a response means: does it carry the other side's data?

Markers are exact values: B's uuids (ids of its rows, its members, its tenant id) and
strings that name B (its slug, its name, strings containing them). A JSON response is
checked value by value (exact match, so ``"INV-0001"`` in both tenants is never
confused); other bodies and headers by substring for uuids and long strings. Anything
the probe itself sent is not counted: echoing a foreign id back in a 404 message is not
a leak (whether the 404 looks like any other 404 is the indistinguishability check's
business). One exception: a 2xx answer that *is* a record of B's — a JSON object whose
own ``id`` is one of B's — is B's row read by id, though the probe named the id itself
(the record may hold nothing else that names B: a service from the same demo catalogue
as A's has A's name, slug and price).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tenantry.probe.bank import UUID_RE, iter_strings
from tenantry.probe.http import Sent

IGNORED_HEADERS = frozenset({"x-request-id", "date", "content-length", "server"})


@dataclass
class Markers:
    name: str  # "tenant B", "another client of A"
    uuids: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.uuids or self.strings)

    def add_uuids(self, values: Iterable[str]) -> None:
        self.uuids |= {v.lower() for v in values}

    def found_in(self, sent: Sent) -> list[str]:
        echo = sent.echo.lower()
        hits: set[str] = set()
        if sent.body is not None:
            for value in iter_strings(sent.body):
                low = value.lower()
                if low in self.uuids or value in self.strings:
                    hits.add(value)
                elif len(value) > 36:
                    hits |= {u.lower() for u in UUID_RE.findall(value) if u.lower() in self.uuids}
        else:
            hits |= _in_text(sent.text, self)
        for name, value in sent.headers.items():
            if name not in IGNORED_HEADERS:
                hits |= _in_text(value, self)
        found = {h for h in hits if h.lower() not in echo}
        own = record_id(sent)
        if own is not None and own in self.uuids:
            found.add(own)
        return sorted(found)


def record_id(sent: Sent) -> str | None:
    """The id of the record a 2xx JSON answer is (``{"id": ...}`` at the top), if any."""
    if not 200 <= sent.status < 300 or not isinstance(sent.body, dict):
        return None
    value = sent.body.get("id")
    return value.lower() if isinstance(value, str) else None


def _in_text(text: str, markers: Markers) -> set[str]:
    if not text:
        return set()
    found = {u.lower() for u in UUID_RE.findall(text) if u.lower() in markers.uuids}
    found |= {s for s in markers.strings if len(s) >= 8 and s in text}
    return found


# Codes that mean "refused before reaching the route's own logic".
AUTH_CODES = frozenset(
    {
        "not_authenticated",
        "tenant_sig_missing",
        "tenant_sig_invalid",
        "tenant_mismatch",
        "not_a_member",
        "session_revoked",
        "tenant_suspended",
        "no_active_tenant",
        "role_required",
        "unknown_tenant_host",
        "rate_limited",
    }
)
LOST_SESSION_CODES = frozenset(
    {"not_authenticated", "session_revoked", "not_a_member", "tenant_sig_invalid"}
)


def reached_handler(sent: Sent) -> bool:
    """Did the request get past authentication and validation into the route?"""
    if sent.status in (401, 405, 422, 429):
        return False
    return not (sent.status == 403 and (sent.code in AUTH_CODES or sent.code is None))


def refused(sent: Sent) -> bool:
    return sent.status in (401, 403, 404)


def outcome(sent: Sent) -> str:
    return f"{sent.status} {sent.code}" if sent.code else str(sent.status)


def same_outcome(a: Sent, b: Sent) -> bool:
    if 429 in (a.status, b.status):
        return True  # rate limited: inconclusive, not a difference
    return (a.status, a.code) == (b.status, b.code)


def describe(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        details = err.get("details")
        return f"{err.get('code')}: {err.get('message')}" + (f" {details}" if details else "")
    return ""

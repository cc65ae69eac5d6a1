"""Header values made safe before they reach a message's headers.

A subject quotes what users typed (a service request's title, a name), and a header
value must never carry a line break: ``"Leak\\r\\nBcc: x@evil.test"`` would be a header
injection in a naive mailer. Python's ``EmailMessage`` refuses such a value with a
``ValueError`` — safe, but the job then failed on every run and, with the per-tenant
lock it had, blocked the reminders behind it (issue 8, finding 4). So values are
cleaned here instead: every control, format and line/paragraph-separator character
(CR, LF, TAB, NUL, U+2028…) becomes a space, runs of spaces collapse, and the value is
cut to a sane length.
"""

from __future__ import annotations

import unicodedata

MAX_HEADER_CHARS = 200


def header_value(raw: str, *, max_chars: int = MAX_HEADER_CHARS) -> str:
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in raw
    )
    value = " ".join(cleaned.split())
    if len(value) > max_chars:
        value = value[: max_chars - 1].rstrip() + "…"
    return value

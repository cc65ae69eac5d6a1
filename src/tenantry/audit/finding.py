"""One finding of the schema audit: a table (or role, or function), a rule, a detail."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Finding:
    table: str
    rule: str
    detail: str

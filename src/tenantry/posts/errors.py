"""Errors of posts (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import Conflict


class SlugTaken(Conflict):
    code = "slug_taken"
    message = "Another post of this tenant already uses this slug."

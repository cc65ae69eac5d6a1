"""Errors of the services catalogue: the shared ``slug_taken`` fault
(``tenantry.kit.errors``) with this area's message."""

from __future__ import annotations

from functools import partial

from tenantry.kit.errors import SlugTaken

slug_taken = partial(SlugTaken, "Another service of this tenant already uses this slug.")

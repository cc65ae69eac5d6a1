"""Slug rules: a DNS label, case-folded, not reserved, not a look-alike of a taken slug.

A slug becomes ``<slug>.<base-domain>``, so it is an ASCII DNS label. Input is first
NFKC-normalised and case-folded (``ACME`` and full-width ``ACME`` are ``acme``); what
is still not ``[a-z0-9-]`` afterwards (a Cyrillic a in ``acme``, say) is refused,
which rules out IDN homographs outright.

Within that alphabet a few characters and pairs still read alike (``0``/``o``,
``1``/``l``/``i``, ``rn``/``m``, ``vv``/``w``, ``cl``/``d`` — the ASCII part of
Unicode TR39's confusables). ``skeleton`` maps each to one representative; two slugs
with the same skeleton are look-alikes, and a new slug whose skeleton is taken is
refused (``acrne`` while ``acme`` exists). Hand-written rather than a confusables
library: those map the whole of Unicode, while our alphabet is 37 characters, and
the table below is the part that applies.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.db.tenant import RESERVED_SLUGS, SLUG_PATTERN, Tenant
from tenantry.errors import InvalidInput
from tenantry.kit.errors import SlugTaken

# One lock for every slug decision (creating and restoring tenants), so two look-alikes
# created at the same moment cannot both pass the check (the skeleton index is not
# unique; see the migration). Held to the end of the transaction.
SLUG_LOCK = 7_356_001

_LETTERS = str.maketrans("01i", "oll")
# Applied after the letters, so "c1" (-> "cl") is a "d" too.
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))


class InvalidSlug(InvalidInput):
    code = "invalid_slug"
    message = "This slug cannot be used."


def normalize_slug(raw: str) -> str:
    """Case-fold and NFKC-normalise; refuse what is not a DNS label or is reserved."""
    slug = unicodedata.normalize("NFKC", raw).casefold().strip()
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidSlug(
            "A slug is 1-63 letters a-z, digits or hyphens, not starting or ending "
            f"with a hyphen (got {raw!r})."
        )
    if slug in RESERVED_SLUGS or skeleton(slug) in _RESERVED_SKELETONS:
        raise InvalidSlug(f"{slug!r} is reserved or looks like a reserved word.")
    return slug


def skeleton(slug: str) -> str:
    """The look-alike class of ``slug``: equal skeletons read the same."""
    out = slug.translate(_LETTERS)
    for seq, rep in _SEQUENCES:
        out = out.replace(seq, rep)
    return out


_RESERVED_SKELETONS = frozenset(skeleton(s) for s in RESERVED_SLUGS)


def check_free(session: Session, slug: str) -> None:
    """Refuse ``slug`` if a tenant has it, or a slug that reads the same (its skeleton)."""
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise SlugTaken(f"The slug {slug!r} is taken.")
    if session.scalar(select(Tenant.id).where(Tenant.slug_skeleton == skeleton(slug))):
        raise SlugTaken(f"The slug {slug!r} looks too much like a slug that is taken.")

"""The public contact form: rate-limited per tenant and client address. Flush only."""

from __future__ import annotations

import math
import threading
import time
import uuid

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session

from tenantry.contact.models import ContactSubmission
from tenantry.contact.repository import newest_first, submissions
from tenantry.contact.schemas import ContactIn
from tenantry.errors import RateLimited
from tenantry.kit.pagination import Page, PageParams


class ContactLimiter:
    """``settings.contact_form_rate`` per (tenant, client address), moving window.

    Keyed by tenant as well as address so that one busy office network cannot use up
    every tenant's form, and one tenant's spam never throttles another's visitors.
    In process memory, like the login limiter: with several processes the effective
    limit is multiplied by their number until a shared storage is put behind it.
    """

    _lock = threading.Lock()

    def __init__(self, rate: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = parse(rate)

    def hit(self, *, tenant_id: uuid.UUID, address: str) -> None:
        """Count one submission; raise ``RateLimited`` (429 + Retry-After) past the limit."""
        key = (str(tenant_id), address)
        if not self._limiter.hit(self._item, "contact", *key):
            reset_at, _ = self._limiter.get_window_stats(self._item, "contact", *key)
            retry = max(1, math.ceil(reset_at - time.time()))
            raise RateLimited(
                "Too many messages from this address; try again later.",
                headers={"Retry-After": str(retry)},
            )

    @classmethod
    def of(cls, state: object, rate: str) -> ContactLimiter:
        """The app's limiter, created on first use (one per app, so tests stay apart)."""
        with cls._lock:
            limiter = getattr(state, "contact_limiter", None)
            if not isinstance(limiter, ContactLimiter):
                limiter = cls(rate)
                setattr(state, "contact_limiter", limiter)  # noqa: B010 - Starlette State
            return limiter


def submit(
    session: Session,
    *,
    limiter: ContactLimiter,
    tenant_id: uuid.UUID,
    address: str,
    data: ContactIn,
) -> ContactSubmission:
    """Store one message for the host's tenant (the guard sets ``tenant_id``)."""
    limiter.hit(tenant_id=tenant_id, address=address)
    return submissions.add(session, ContactSubmission(**data.model_dump()))


def list_submissions(session: Session, *, page: PageParams) -> Page[ContactSubmission]:
    return submissions.page(session, newest_first(), page)


def delete_submission(session: Session, *, submission_id: uuid.UUID) -> None:
    submissions.delete(session, submissions.get_or_404(session, submission_id))

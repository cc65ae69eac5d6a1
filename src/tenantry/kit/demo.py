"""What every area's demo filler needs: the demo tenant it fills, and who is in it.

The loader (``tenantry.ops.demo``) provisions the tenants and accounts below, then calls
each area's ``<area>.demo.fill(db, demo)`` in the order of ``tenantry.areas.AREAS``.
Loading twice adds nothing: a filler leaves an area that has rows alone, which
``fills(Model)`` says once for all of them::

    @fills(Booking)
    def fill(s: Session, demo: DemoTenant) -> None:
        s.add(Booking(...))
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.isolation.context import TenantContext, tenant_context

if TYPE_CHECKING:  # annotations only: tenants (provisioning) builds on the kit's areas
    from tenantry.db.engine import Database
    from tenantry.tenants.lifecycle import TenantRef

DEMO_TENANTS = (("acme", "Acme Home Services"), ("globex", "Globex Facilities"))
DEMO_ROLES = ("owner", "admin", "staff", "client")
CONSULTANT = "consultant@demo.test"
# A different role in each tenant: a wall that let one tenant's membership answer for
# another would show as the wrong role (``tenantry probe --shared-member``).
CONSULTANT_ROLES = {"acme": "staff", "globex": "admin"}


@dataclass
class DemoTenant:
    ref: TenantRef
    users: dict[str, uuid.UUID] = field(default_factory=dict)  # role → user id

    def user(self, role: str) -> uuid.UUID:
        """The demo member's user id for ``role`` (owner, admin, staff, client,
        client2, consultant)."""
        return self.users[role]

    @contextmanager
    def session(self, db: Database) -> Iterator[Session]:
        """One unit of work in this tenant, acting as its owner (fillers write as the
        owner, under the guard and RLS like any request)."""
        ctx = TenantContext(tenant_id=self.ref.id, user_id=self.user("owner"), role="owner")
        with tenant_context(ctx), db.session() as session:
            yield session

    @staticmethod
    def has_rows(session: Session, model: Any) -> bool:
        """Does the tenant already have rows of ``model``? A filler leaves a filled
        area alone, so loading the demo twice adds nothing."""
        return session.scalar(select(model.id).limit(1)) is not None


def demo_accounts() -> list[tuple[str, str]]:
    """(email, what it is) for the README, ``--help`` and the sign-in page."""
    rows = []
    for slug, _ in DEMO_TENANTS:
        rows += [(f"{role}@{slug}.test", f"{role} of {slug}") for role in DEMO_ROLES]
        rows.append((f"client2@{slug}.test", f"a second client of {slug}"))
    rows.append((CONSULTANT, "staff of acme, admin of globex"))
    return rows


Filler = Callable[["Database", DemoTenant], None]


def fills(model: Any) -> Callable[[Callable[[Session, DemoTenant], None]], Filler]:
    """Make ``body(session, demo)`` an area's ``fill(db, demo)``: it runs in one unit of
    work of the demo tenant (as its owner), and not at all when the tenant already has
    rows of ``model`` (the area is filled; loading again leaves it alone)."""

    def wrap(body: Callable[[Session, DemoTenant], None]) -> Filler:
        @functools.wraps(body)
        def fill(db: Database, demo: DemoTenant) -> None:
            with demo.session(db) as session:
                if not demo.has_rows(session, model):
                    body(session, demo)

        return fill

    return wrap

"""Two tenants with data for the attack engine, built for one run.

Each tenant gets the demo fillers' rows (every area that has a ``demo.fill``; a filler
that fails fails the world) and, on top, rows of its own written through the models — so
the engine has something of B's to look for even in areas without a filler yet. A has two
clients with records each (the portal check) and a *leaver* whose membership is removed at
the end of the run.

People who belong to several tenants hold *different* roles and statuses in each, so a
wall that lets one tenant's membership answer for another shows as a wrong role:

* the consultant is staff of A, admin of B and owner of C;
* the former colleague is staff of A and a *removed* admin of B;
* A's owner is also admin of C;
* C is suspended;
* the invitee is a client of B with a *pending* (staff) invitation to A: an open
  invitation grants nothing until its link is followed, so A must refuse them;
* a platform operator (no membership) suspends A at the end of a run through the
  operator API and reactivates it (the ``replay-after-suspension`` scenario).

``World.role_checks`` lists what the API must report for each of them, per tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy import select, update

from tenantry.attachments.models import Attachment
from tenantry.auth.models import Membership, User
from tenantry.auth.passwords import hash_password
from tenantry.auth.tokens import LIFETIMES
from tenantry.bookings.models import Booking
from tenantry.chat.models import ChatMessage
from tenantry.contact.models import ContactSubmission
from tenantry.db.engine import Database
from tenantry.expenses.models import Expense
from tenantry.invoices.models import Invoice, InvoiceLine
from tenantry.ops.demo import DemoTenant, demo_fillers
from tenantry.payments.models import PaymentEvent
from tenantry.posts.models import Post
from tenantry.probe import Config, Credentials, RoleCheck, Side
from tenantry.reminders.models import ScheduledReminder
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tenantry.settings import Settings
from tenantry.team.models import Invitation
from tenantry.tenants.lifecycle import TenantRef, add_member, provision_tenant, set_tenant_status
from tenantry.work_orders.models import WorkOrder
from tests.factories import PASSWORD, Member

ROLES = {"owner": "owner", "admin": "admin", "staff": "staff", "client": "client"}
A_EXTRA = {"client2": "client", "leaver": "staff"}


@dataclass
class SeededTenant:
    id: uuid.UUID
    slug: str
    members: dict[str, Member] = field(default_factory=dict)

    def __getitem__(self, label: str) -> Member:
        return self.members[label]

    def creds(self, label: str) -> Credentials:
        m = self.members[label]
        return Credentials(label, m.email, m.password, self.slug)


@dataclass
class World:
    a: SeededTenant
    b: SeededTenant
    c: SeededTenant  # suspended
    consultant: Member
    former: Member
    operator: Member
    invitee: Member

    def role_checks(self) -> list[RoleCheck]:
        """Per tenant, the role the API must report (None: must be refused)."""
        checks = [
            RoleCheck(t.creds(label), m.role)
            for t in (self.a, self.b)
            for label, m in t.members.items()
            if label != "leaver"
        ]

        def shared(m: Member, label: str, t: SeededTenant, role: str | None) -> RoleCheck:
            return RoleCheck(Credentials(label, m.email, m.password, t.slug), role)

        return [
            *checks,
            shared(self.consultant, "consultant", self.a, "staff"),
            shared(self.consultant, "consultant", self.b, "admin"),
            shared(self.consultant, "consultant", self.c, None),
            shared(self.former, "former", self.a, "staff"),
            shared(self.former, "former", self.b, None),
            shared(self.a["owner"], "a.owner", self.c, None),
            shared(self.invitee, "invitee", self.a, None),
            shared(self.invitee, "invitee", self.b, "client"),
        ]

    def config(self, settings: Settings, **kw: object) -> Config:
        a_labels = ("owner", "admin", "staff", "client", "client2")
        return Config(
            a=Side(self.a.slug, {k: self.a.creds(k) for k in a_labels}),
            b=Side(self.b.slug, {k: self.b.creds(k) for k in ("owner", "client")}),
            signing_keys=list(settings.signing_keys),
            sig_max_age_s=settings.tenant_sig_max_age_s,
            base_domain=settings.base_domain,
            leaver=self.a.creds("leaver"),
            operator=Credentials("operator", self.operator.email, self.operator.password, ""),
            role_checks=self.role_checks(),
            **kw,  # type: ignore[arg-type]
        )


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


def new_user(db: Database, email: str, name: str = "", *, operator: bool = False) -> uuid.UUID:
    """A user with the test password, hashed once per run (argon2 is slow on purpose)."""
    with db.system_session(reason="isolation test user") as s:
        user = User(
            email=email.lower(),
            name=name,
            password_hash=_password_hash(),
            is_superadmin=operator,
            email_verified_at=datetime.now(UTC),
        )
        s.add(user)
        s.flush()
        return user.id


def make_world(db: Database) -> World:
    def person(label: str, *, operator: bool = False) -> Member:
        email = f"{label}-{uuid.uuid4().hex[:8]}@example.test"
        return Member(new_user(db, email, label.title(), operator=operator), email, "staff")

    consultant, former = person("consultant"), person("former")
    a = _tenant(db, "a", {**ROLES, **A_EXTRA}, consultant, "staff")
    b = _tenant(db, "b", ROLES, consultant, "admin")
    add_member(db, tenant_id=a.id, user_id=former.user_id, role="staff")
    add_member(db, tenant_id=b.id, user_id=former.user_id, role="admin")
    with db.system_session(reason="isolation world: a removed membership") as s:
        s.execute(
            update(Membership)
            .where(Membership.tenant_id == b.id, Membership.user_id == former.user_id)
            .values(status="removed")
        )
    c_slug = f"isoc-{uuid.uuid4().hex[:8]}"
    c_ref = provision_tenant(db, slug=c_slug, name=f"Isolation C {c_slug} (suspended)")
    c = SeededTenant(c_ref.id, c_slug)
    add_member(db, tenant_id=c.id, user_id=consultant.user_id, role="owner")
    add_member(db, tenant_id=c.id, user_id=a["owner"].user_id, role="admin")
    set_tenant_status(db, c.id, "suspended")
    invitee = person("invitee")
    add_member(db, tenant_id=b.id, user_id=invitee.user_id, role="client")
    with db.system_session(reason="isolation world: a pending invitation") as s:
        s.add(
            Invitation(
                tenant_id=a.id, email=invitee.email, role="staff", name="Invitee",
                invited_by_id=a["owner"].user_id,
                expires_at=datetime.now(UTC) + LIFETIMES["invitation"],
            )
        )  # fmt: skip
    return World(a, b, c, consultant, former, person("operator", operator=True), invitee)


def _tenant(
    db: Database, side: str, roles: dict[str, str], consultant: Member, consultant_role: str
) -> SeededTenant:
    slug = f"iso{side}-{uuid.uuid4().hex[:8]}"
    ref = provision_tenant(db, slug=slug, name=f"Isolation {side.upper()} {slug}")
    tenant = SeededTenant(ref.id, slug)
    for label, role in roles.items():
        email = f"{label}-{uuid.uuid4().hex[:6]}@{slug}.test"
        user_id = new_user(db, email, f"{label} of {slug}")
        add_member(db, tenant_id=ref.id, user_id=user_id, role=role)
        tenant.members[label] = Member(user_id, email, role)
    add_member(db, tenant_id=ref.id, user_id=consultant.user_id, role=consultant_role)
    _fill_demo(db, ref, tenant, consultant)
    _seed(db, tenant)
    return tenant


def _fill_demo(db: Database, ref: TenantRef, tenant: SeededTenant, consultant: Member) -> None:
    demo = DemoTenant(ref)
    demo.users = {label: tenant.members[label].user_id for label in ROLES}
    demo.users["consultant"] = consultant.user_id
    # A filler that fails fails the world: B's data must not silently shrink.
    for fill in demo_fillers():
        fill(db, demo)


def _seed(db: Database, t: SeededTenant) -> None:
    """Rows in every area, for both clients of the tenant, each naming the tenant."""
    staff = t.members["staff"].user_id
    clients = [label for label in ("client", "client2") if label in t.members]
    when = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    with db.system_session(reason="isolation test world") as s:
        services = [
            Service(tenant_id=t.id, slug=f"iso-{n}-{uuid.uuid4().hex[:6]}",
                    name=f"Service {n} of {t.slug}", price_cents=5000 * n, duration_minutes=60)
            for n in (1, 2)
        ]  # fmt: skip
        s.add_all(services)
        s.flush()
        invoice_no = s.scalar(select(Invoice.number).where(Invoice.tenant_id == t.id).limit(1))
        for n, label in enumerate(clients):
            client = t.members[label].user_id
            start = when + timedelta(days=7 + n)
            req = ServiceRequest(tenant_id=t.id, client_id=client, service_id=services[0].id,
                                 assignee_id=staff, title=f"Leaky tap of {label} at {t.slug}",
                                 description=f"Request of {label} in {t.slug}")  # fmt: skip
            s.add(req)
            s.flush()
            booking = Booking(tenant_id=t.id, client_id=client, service_id=services[0].id,
                              service_request_id=req.id, assignee_id=staff, starts_at=start,
                              ends_at=start + timedelta(hours=1),
                              notes=f"Booking of {label} at {t.slug}")  # fmt: skip
            s.add(booking)
            s.flush()
            number = f"ISO-{t.slug}-{n}" if invoice_no is None else f"ISO-{uuid.uuid4().hex[:8]}"
            invoice = Invoice(tenant_id=t.id, client_id=client, booking_id=booking.id,
                              number=number, total_cents=5000)  # fmt: skip
            invoice.lines = [
                InvoiceLine(tenant_id=t.id, position=0, description=f"Work for {label} {t.slug}",
                            quantity=1, unit_price_cents=5000, amount_cents=5000)
            ]  # fmt: skip
            s.add(invoice)
            s.flush()
            s.add_all([
                ChatMessage(tenant_id=t.id, service_request_id=req.id, sender_id=client,
                            body=f"Hello from {label} of {t.slug}"),
                ScheduledReminder(tenant_id=t.id, booking_id=booking.id, channel="email",
                                  send_at=start - timedelta(days=1)),
                WorkOrder(tenant_id=t.id, service_request_id=req.id, booking_id=booking.id,
                          assignee_id=staff, title=f"Fix tap for {label} at {t.slug}",
                          due_at=start),
                Attachment(tenant_id=t.id, service_request_id=req.id, uploaded_by_id=client,
                           filename=f"photo-{label}.png", content_type="image/png",
                           size_bytes=4, storage_key=f"{t.id}/{uuid.uuid4()}"),
                PaymentEvent(tenant_id=t.id, provider="test", type="invoice.paid",
                             provider_event_id=f"evt-{uuid.uuid4().hex}", invoice_id=invoice.id),
            ])  # fmt: skip
        s.add_all([
            Expense(tenant_id=t.id, user_id=staff, amount_cents=1234, category="supplies",
                    description=f"Parts for {t.slug}", incurred_on=date.today()),
            Post(tenant_id=t.id, author_id=t.members["owner"].user_id,
                 slug=f"news-{uuid.uuid4().hex[:6]}", title=f"News of {t.slug}",
                 body=f"Body of {t.slug}", status="published", published_at=when),
            ContactSubmission(tenant_id=t.id, name=f"Visitor of {t.slug}",
                              email=f"visitor@{t.slug}.test", message=f"Hello {t.slug}"),
        ])  # fmt: skip
        s.flush()
        # A file on every expense and service request (the demo's have none): an empty
        # attachment list shows nothing of B's even when both walls are off, and the
        # engine picks any two of B's records.
        for expense_id in s.scalars(select(Expense.id).where(Expense.tenant_id == t.id)):
            s.add(Attachment(tenant_id=t.id, expense_id=expense_id, uploaded_by_id=staff,
                             filename=f"receipt-{t.slug}.pdf", content_type="application/pdf",
                             size_bytes=4, storage_key=f"{t.id}/{uuid.uuid4()}"))  # fmt: skip
        requests = select(ServiceRequest).where(ServiceRequest.tenant_id == t.id)
        for request in s.scalars(requests):
            s.add(Attachment(tenant_id=t.id, service_request_id=request.id,
                             uploaded_by_id=request.client_id, filename=f"plan-{t.slug}.pdf",
                             content_type="application/pdf", size_bytes=4,
                             storage_key=f"{t.id}/{uuid.uuid4()}"))  # fmt: skip

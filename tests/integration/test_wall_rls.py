"""Wall 5 alone: row-level security, with the ORM guard bypassed.

Everything here is raw ``text()`` SQL on plain connections of the app role
(``db.app_engine``): no GuardedSession, no tenant context, nothing but the database's
policies between a query and the other tenant's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from tenantry.areas import tenant_owned_tables
from tenantry.attachments.models import Attachment
from tenantry.bookings.models import Booking
from tenantry.chat.models import ChatMessage
from tenantry.contact.models import ContactSubmission
from tenantry.db.engine import Database
from tenantry.expenses.models import Expense
from tenantry.idempotency.models import IdempotencyKey
from tenantry.invoices.models import Invoice, InvoiceLine
from tenantry.jobs.models import HeldJob
from tenantry.payments.models import PaymentEvent
from tenantry.permissions.models import RolePermission
from tenantry.posts.models import Post
from tenantry.reminders.models import ScheduledReminder
from tenantry.service_requests.models import ServiceRequest
from tenantry.services.models import Service
from tenantry.team.models import Invitation
from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds
from tenantry.tenants.lifecycle import add_member
from tenantry.work_orders.models import WorkOrder
from tests.factories import TenantFixture, make_tenant, make_user

TABLES = tenant_owned_tables()
SET_TENANT = text("select set_config('app.current_tenant_id', :t, true)")
SET_USER = text("select set_config('app.current_user_id', :u, true)")


def seed_every_table(db: Database, tenant: TenantFixture) -> dict[str, uuid.UUID]:
    """One row in every tenant-owned table for ``tenant``; returns each row's id."""
    t = tenant.id
    client, staff = tenant["client"].user_id, tenant["staff"].user_id
    start = datetime.now(UTC) + timedelta(days=2)
    with db.system_session(reason="seed every tenant table (test)") as s:
        service = Service(tenant_id=t, slug="clean", name="Cleaning", price_cents=5000,
                          duration_minutes=60)  # fmt: skip
        s.add(service)
        s.flush()
        request = ServiceRequest(tenant_id=t, client_id=client, service_id=service.id,
                                 assignee_id=staff, title="Clean the flat")  # fmt: skip
        s.add(request)
        s.flush()
        booking = Booking(tenant_id=t, client_id=client, service_id=service.id,
                          service_request_id=request.id, assignee_id=staff, starts_at=start,
                          ends_at=start + timedelta(hours=1))  # fmt: skip
        expense = Expense(tenant_id=t, user_id=staff, amount_cents=1200, category="travel",
                          incurred_on=date.today())  # fmt: skip
        s.add_all([booking, expense])
        s.flush()
        invoice = Invoice(tenant_id=t, client_id=client, booking_id=booking.id, number="INV-1")
        s.add(invoice)
        s.flush()
        rows = {
            "services": service,
            "service_requests": request,
            "bookings": booking,
            "expenses": expense,
            "invoices": invoice,
            "invoice_lines": InvoiceLine(tenant_id=t, invoice_id=invoice.id, description="x",
                                         quantity=2, unit_price_cents=50, amount_cents=100),
            "work_orders": WorkOrder(tenant_id=t, service_request_id=request.id,
                                     booking_id=booking.id, assignee_id=staff, title="Go"),
            "attachments": Attachment(tenant_id=t, service_request_id=request.id,
                                      uploaded_by_id=client, filename="a.png",
                                      content_type="image/png", size_bytes=10,
                                      storage_key=f"{t}/a.png"),
            "scheduled_reminders": ScheduledReminder(tenant_id=t, booking_id=booking.id,
                                                     channel="email", send_at=start),
            "chat_messages": ChatMessage(tenant_id=t, service_request_id=request.id,
                                         sender_id=client, body="Hi"),
            "posts": Post(tenant_id=t, author_id=staff, slug="hello", title="Hello"),
            "contact_submissions": ContactSubmission(tenant_id=t, name="Ann",
                                                     email="ann@example.test", message="Hi"),
            "idempotency_keys": IdempotencyKey(tenant_id=t, key="k-1", method="POST",
                                               path="/api/x", request_hash="h"),
            "payment_events": PaymentEvent(tenant_id=t, provider="stripe",
                                           provider_event_id="evt_1", type="invoice.paid",
                                           invoice_id=invoice.id),
            "role_permissions": RolePermission(tenant_id=t, role="staff",
                                               permission="bookings.read"),
            "booking_settings": BookingSettings(tenant_id=t),
            "communication_settings": CommunicationSettings(tenant_id=t),
            "thresholds": Thresholds(tenant_id=t),
            "held_jobs": HeldJob(tenant_id=t, task_name="reminders.send", args={}),
            "invitations": Invitation(tenant_id=t, email=f"invitee@{tenant.slug}.test",
                                      role="staff", invited_by_id=staff,
                                      expires_at=start + timedelta(days=7)),
        }  # fmt: skip
        s.add_all(rows.values())
        s.flush()
        ids = {name: row.id for name, row in rows.items()}
    ids["tenant_memberships"] = client  # memberships are keyed (tenant_id, user_id)
    return ids


@pytest.fixture(scope="module")
def a(db: Database) -> TenantFixture:
    tenant = make_tenant(db)
    seed_every_table(db, tenant)
    return tenant


@pytest.fixture(scope="module")
def b(db: Database) -> TenantFixture:
    tenant = make_tenant(db)
    seed_every_table(db, tenant)
    return tenant


@pytest.fixture
def app(db: Database) -> Iterator[Connection]:
    """A plain app-role connection; each test's work is rolled back."""
    with db.app_engine.connect() as conn:
        yield conn
        conn.rollback()


def as_tenant(conn: Connection, tenant_id: uuid.UUID) -> None:
    conn.execute(SET_TENANT, {"t": str(tenant_id)})


def visible_tenants(conn: Connection, table: str) -> set[uuid.UUID]:
    return set(conn.execute(text(f'select tenant_id from "{table}"')).scalars())


def test_the_seed_covers_every_tenant_table():
    assert "tenant_memberships" in TABLES
    assert len(TABLES) == 21


@pytest.mark.parametrize("table", TABLES)
def test_each_table_shows_only_the_current_tenants_rows(app, a, b, table):
    for tenant in (a, b):
        as_tenant(app, tenant.id)
        assert visible_tenants(app, table) == {tenant.id}
        app.rollback()


@pytest.mark.parametrize("table", TABLES)
def test_no_tenant_set_means_zero_rows(app, a, b, table):
    assert app.execute(text("select current_setting('app.current_tenant_id', true)")).scalar() in (
        None,
        "",
    )
    assert visible_tenants(app, table) == set()


def test_a_previous_transactions_tenant_does_not_survive_on_the_connection(app, a):
    """After a transaction-local set ends, the setting reads '' (not NULL): still zero rows."""
    as_tenant(app, a.id)
    assert visible_tenants(app, "services") == {a.id}
    app.commit()
    assert app.execute(text("select current_setting('app.current_tenant_id', true)")).scalar() == ""
    for table in TABLES:
        assert visible_tenants(app, table) == set(), table


def test_a_malformed_tenant_setting_fails_closed(app, a):
    app.execute(SET_TENANT, {"t": "not-a-uuid"})
    with pytest.raises(DBAPIError, match="invalid input syntax for type uuid"):
        visible_tenants(app, "services")


def test_insert_carrying_another_tenants_id_is_rejected(app, a, b):
    as_tenant(app, a.id)
    with pytest.raises(ProgrammingError, match="row-level security"):
        app.execute(
            text("insert into contact_submissions (tenant_id, name, email, message)"
                 " values (:t, 'x', 'x@example.test', 'planted')"),
            {"t": str(b.id)},
        )  # fmt: skip


def test_insert_with_no_tenant_set_is_rejected(app, a):
    with pytest.raises(ProgrammingError, match="row-level security"):
        app.execute(
            text("insert into contact_submissions (tenant_id, name, email, message)"
                 " values (:t, 'x', 'x@example.test', 'orphan')"),
            {"t": str(a.id)},
        )  # fmt: skip


def test_insert_in_the_current_tenant_is_accepted(app, a):
    as_tenant(app, a.id)
    app.execute(
        text("insert into contact_submissions (tenant_id, name, email, message)"
             " values (:t, 'x', 'x@example.test', 'fine')"),
        {"t": str(a.id)},
    )  # fmt: skip


def test_update_moving_a_row_to_another_tenant_is_rejected(app, a, b):
    as_tenant(app, a.id)
    with pytest.raises(ProgrammingError, match="row-level security"):
        app.execute(text("update contact_submissions set tenant_id = :t"), {"t": str(b.id)})


def test_update_and_delete_cannot_reach_another_tenants_rows(app, a, b):
    as_tenant(app, a.id)
    params = {"t": str(b.id)}
    updated = app.execute(text("update services set name = 'x' where tenant_id = :t"), params)
    deleted = app.execute(text("delete from contact_submissions where tenant_id = :t"), params)
    assert (updated.rowcount, deleted.rowcount) == (0, 0)


# ------------------------------------------------------------------------- the app role


def test_app_role_is_not_superuser_and_has_no_bypassrls(app):
    row = app.execute(
        text("select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb"
             " from pg_roles where rolname = current_user")
    ).one()  # fmt: skip
    assert tuple(row) == (False, False, False, False)


def test_app_role_cannot_create_tables(app):
    with pytest.raises(ProgrammingError, match="permission denied for schema public"):
        app.execute(text("create table sneaky (id int)"))


@pytest.mark.parametrize(
    "ddl",
    [
        "alter table services disable row level security",
        "alter table services no force row level security",
        "drop policy tenant_isolation on services",
        "alter policy tenant_isolation on services using (true)",
        "create policy open_door on services using (true)",
    ],
)
def test_app_role_cannot_switch_rls_off(app, ddl):
    with pytest.raises(ProgrammingError, match="must be owner"):
        app.execute(text(ddl))


def test_app_role_cannot_truncate_or_turn_row_security_off(app, a):
    with pytest.raises(ProgrammingError, match="permission denied"):
        app.execute(text("truncate services"))
    app.rollback()
    app.execute(text("set local row_security = off"))
    as_tenant(app, a.id)
    # With row_security off, a query RLS would filter raises instead of bypassing.
    with pytest.raises(ProgrammingError, match="row-level security"):
        app.execute(text("select count(*) from services"))


def test_app_role_cannot_become_the_migrator(app, db):
    with pytest.raises(ProgrammingError, match="permission denied"):
        app.execute(text(f'set role "{db.urls.migrator_role}"'))


def test_every_tenant_table_has_rls_enabled_forced_and_the_strict_policy(app):
    rows = app.execute(
        text(
            "select c.relname, c.relrowsecurity, c.relforcerowsecurity,"
            " (select count(*) from pg_policy p where p.polrelid = c.oid"
            "   and p.polname = 'tenant_isolation' and p.polcmd = '*') as strict"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and c.relname = any(:tables)"
        ),
        {"tables": TABLES},
    ).all()
    assert sorted(r.relname for r in rows) == sorted(TABLES)
    assert all(r.relrowsecurity and r.relforcerowsecurity and r.strict == 1 for r in rows)


# ------------------------------------------------------------- memberships self-read


def test_a_user_sees_their_own_memberships_across_tenants_and_nobody_elses(app, db, a, b):
    me = make_user(db)
    add_member(db, tenant_id=a.id, user_id=me.user_id, role="staff")
    add_member(db, tenant_id=b.id, user_id=me.user_id, role="client")
    app.execute(SET_USER, {"u": str(me.user_id)})
    rows = app.execute(text("select tenant_id, user_id from tenant_memberships")).all()
    assert {r.user_id for r in rows} == {me.user_id}
    assert {r.tenant_id for r in rows} == {a.id, b.id}


def test_the_self_read_policy_is_read_only(app, db, a):
    me = make_user(db)
    add_member(db, tenant_id=a.id, user_id=me.user_id, role="client")
    app.execute(SET_USER, {"u": str(me.user_id)})
    promoted = app.execute(
        text("update tenant_memberships set role = 'owner' where user_id = :u"),
        {"u": str(me.user_id)},
    )
    assert promoted.rowcount == 0

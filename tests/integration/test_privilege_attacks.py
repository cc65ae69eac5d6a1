"""Issue 8, replayed as the attacker did it: findings 3, 4, 5, 6, 9 and the database
privileges of finding 10 — each over HTTP through the real app (or as SQL as the app
role), each getting the safe outcome. Every test names its finding.

(Findings 1, 2, 7, 8, 11 and the users/memberships part of 10 are replayed in
``test_identity_attacks.py``; the served-process memory figure of finding 3 is
``tests/e2e/test_body_flood.py``.)
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from tenantry.app import body_limits
from tenantry.expenses.models import Expense
from tenantry.invoices import service as invoice_service
from tenantry.invoices.models import Invoice
from tenantry.invoices.schemas import InvoiceCreate, InvoiceLineIn
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.jobs.held import held_count
from tenantry.payments.signature import sign_payload
from tenantry.reminders.models import ScheduledReminder
from tenantry.tenants.held import TenantNotActive, release_held_work
from tests.asgi_stream import MiB, stream_request
from tests.factories import make_service, make_tenant
from tests.helpers import code, login
from tests.integration.api import mailbox as smtp
from tests.integration.api.mailbox import mail_settings
from tests.integration.api.test_attachments import PNG, make_expense, make_request
from tests.integration.api.test_reminders import jobs_of, run_worker

mailbox = smtp.mailbox
mail_app = smtp.mail_app
mail_client = smtp.mail_client

REMINDERS = "/api/admin/reminders"
WEBHOOK = "/api/payments/webhook"


def signed_in(app, member) -> TestClient:
    client = TestClient(app)
    login(client, member)
    return client


def later(hours: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def make_all_due(db, tenant) -> None:
    """The tenant's pending reminders and queued jobs due now — except year-9999 ones."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    year_3000 = datetime(3000, 1, 1, tzinfo=UTC)
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.execute(
            update(ScheduledReminder)
            .where(ScheduledReminder.status == "pending", ScheduledReminder.send_at < year_3000)
            .values(send_at=past)
        )
    with db.migrator_engine.begin() as conn:
        conn.execute(
            text(
                "update procrastinate_jobs set scheduled_at = now() - interval '1s' "
                "where status = 'todo' and args->>'tenant_id' = :t and scheduled_at < :y"
            ),
            {"t": str(tenant.id), "y": year_3000},
        )


def reminder(client, rid) -> dict:
    return client.get(f"{REMINDERS}/{rid}").json()


def schedule(client, target: uuid.UUID, send_at: str | None = None) -> str:
    r = client.post(
        REMINDERS, json={"service_request_id": str(target), "send_at": send_at or later()}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# ============================================================== finding 3: bodies


def test_finding_3_unauthenticated_300_mb_posts_with_idempotency_key_are_never_buffered(
    app, settings
):
    """Before: the idempotency middleware read the whole body of any POST carrying the
    header before authentication (4 x 300 MB -> 2.75 GB, each 401 after 6-7 s); JSON
    routes and the webhook buffered any size before their checks."""
    limits = body_limits(settings)
    key = {"idempotency-key": "attack-" + uuid.uuid4().hex}
    upload = stream_request(
        app,
        f"/api/admin/service-requests/{uuid.uuid4()}/attachments",
        total=300 * MiB,
        headers={**key, "content-type": "multipart/form-data; boundary=x"},
    )
    assert upload.status == 401 and upload.pulled <= MiB  # refused before reading
    for path, limit in (
        ("/api/admin/expenses", limits.json),
        ("/api/public/contact", limits.json),
        (WEBHOOK, limits.webhook),
    ):
        flooded = stream_request(
            app, path, total=300 * MiB, headers={**key, "content-type": "application/json"}
        )
        assert flooded.status == 413 and flooded.json()["error"]["code"] == "payload_too_large"
        assert flooded.pulled <= limit + MiB


# ============================================================== finding 4: jobs


@pytest.fixture
def mail_tenant(db):
    return make_tenant(db, roles=("owner", "staff", "client"))


def test_finding_4_a_year_9999_reminder_cancelled_or_not_blocks_no_later_reminder(
    mail_client, mailbox, db, settings, mail_tenant
):
    t = mail_tenant
    login(mail_client, t["staff"])
    request_id = make_request(db, t)
    far = schedule(mail_client, request_id, "9999-12-31T23:00:00+00:00")
    cancelled = schedule(mail_client, request_id, "9999-12-30T23:00:00+00:00")
    assert mail_client.post(f"{REMINDERS}/{cancelled}/cancel").status_code == 200
    due = schedule(mail_client, request_id)
    make_all_due(db, t)
    run_worker(db, mail_settings(settings, mailbox.port))

    assert reminder(mail_client, due)["status"] == "sent"
    assert len(mailbox.to(t["client"].email)) == 1
    assert reminder(mail_client, far)["status"] == "pending"
    # Cancelling the reminder cancelled its job (it used to stay queued, blocking).
    statuses = {j["args"]["reminder_id"]: j["status"] for j in jobs_of(db, t)}
    assert statuses == {far: "todo", cancelled: "cancelled", due: "succeeded"}
    assert all(j["lock"] is None for j in jobs_of(db, t))


def test_finding_4_a_title_with_crlf_bcc_is_sanitised_and_blocks_nothing(
    mail_client, mailbox, db, settings, mail_tenant
):
    """A client's request titled "Leak\\r\\nBcc: x@evil.test": its reminder used to raise
    on every run and block the reminders behind it. Now the subject is cleaned."""
    t = mail_tenant
    service_id = make_service(db, t.id)
    portal = signed_in(mail_client.app, t["client"])
    filed = portal.post(
        "/api/portal/service-requests",
        json={"service_id": str(service_id), "title": "Leak\r\nBcc: x@evil.test"},
    )
    assert filed.status_code == 201, filed.text
    login(mail_client, t["staff"])
    poisoned = schedule(mail_client, uuid.UUID(filed.json()["id"]))
    behind = schedule(mail_client, make_request(db, t), later(2))
    make_all_due(db, t)
    run_worker(db, mail_settings(settings, mailbox.port))

    assert reminder(mail_client, poisoned)["status"] == "sent"
    assert reminder(mail_client, behind)["status"] == "sent"
    messages = mailbox.to(t["client"].email)
    assert len(messages) == 2
    assert not mailbox.to("x@evil.test")
    subjects = [m["Subject"] for m in messages]
    assert "Reminder: Leak Bcc: x@evil.test" in subjects
    for message in messages:
        assert message["Bcc"] is None and "\r" not in message["Subject"]
        assert "\n" not in message["Subject"]


def test_finding_4_a_stuck_job_delays_no_other_job_of_its_tenant(
    mail_client, mailbox, db, settings, mail_tenant
):
    t = mail_tenant
    login(mail_client, t["staff"])
    request_id = make_request(db, t)
    stuck, other = schedule(mail_client, request_id), schedule(mail_client, request_id)
    with db.migrator_engine.begin() as conn:  # a worker died holding it
        conn.execute(
            text("update procrastinate_jobs set status = 'doing' where args->>'reminder_id' = :r"),
            {"r": stuck},
        )
    make_all_due(db, t)
    run_worker(db, mail_settings(settings, mailbox.port))
    assert reminder(mail_client, other)["status"] == "sent"
    assert reminder(mail_client, stuck)["status"] == "pending"


def test_finding_4_a_job_failing_every_run_is_retried_with_backoff_then_parked(
    mail_client, mailbox, db, settings, mail_tenant
):
    from tenantry.tenants.lifecycle import add_member

    t = mail_tenant
    login(mail_client, t["staff"])
    doomed = schedule(mail_client, make_request(db, t))
    # Its client leaves: every run raises "no recipient".
    with db.system_session(reason="test: client leaves") as s:
        s.execute(
            text(
                "update tenant_memberships set status = 'removed' "
                "where tenant_id = :t and user_id = :u"
            ),
            {"t": t.id, "u": t["client"].user_id},
        )
    waits = []
    for run in range(1, 6):
        make_all_due(db, t)
        run_worker(db, mail_settings(settings, mailbox.port))
        [job] = [j for j in jobs_of(db, t) if j["args"]["reminder_id"] == doomed]
        row = reminder(mail_client, doomed)
        assert row["attempts"] == run and "no recipient" in row["payload"]["error"]
        if run < 5:
            assert job["status"] == "todo" and row["status"] == "pending"
            waits.append((job["scheduled_at"] - datetime.now(UTC)).total_seconds())
    # Parked: the job failed for good, the reminder says why.
    assert job["status"] == "failed" and row["status"] == "failed"
    assert waits == sorted(waits) and waits[0] > 10  # backoff grows
    # ...and it blocked nothing: a reminder to someone else goes out.
    add_member(db, tenant_id=t.id, user_id=t["client"].user_id, role="client")
    fine = schedule(mail_client, make_request(db, t))
    make_all_due(db, t)
    run_worker(db, mail_settings(settings, mailbox.port))
    assert reminder(mail_client, fine)["status"] == "sent"


# ============================================================== finding 5: permissions


@pytest.fixture
def perm_tenant(db):
    return make_tenant(db, roles=("owner", "admin", "staff", "client"))


def set_role(owner, role: str, permissions: list[str]) -> None:
    r = owner.put(f"/api/admin/permissions/{role}", json={"permissions": sorted(permissions)})
    assert r.status_code == 200, r.text


def test_finding_5_staff_with_attachments_and_chat_read_cannot_reach_nested_routes(
    app, db, perm_tenant
):
    t = perm_tenant
    owner, staff = signed_in(app, t["owner"]), signed_in(app, t["staff"])
    expense_id = make_expense(db, t)
    request_id = make_request(db, t)
    files = {"file": ("receipt.png", PNG, "image/png")}
    receipt = owner.post(f"/api/admin/expenses/{expense_id}/attachments", files=files).json()
    set_role(owner, "staff", ["attachments.read", "chat.read"])

    assert code(staff.get("/api/admin/expenses")) == "role_required"
    for path in (
        f"/api/admin/expenses/{expense_id}/attachments",
        f"/api/admin/attachments/{receipt['id']}",
        f"/api/admin/attachments/{receipt['id']}/download",
        f"/api/admin/service-requests/{request_id}/chat",
        f"/api/admin/service-requests/{request_id}/attachments",
    ):
        r = staff.get(path)
        assert r.status_code == 403 and code(r) == "role_required", path
    # The team chat is chat.read alone; with the parents' reads the nested ones open.
    assert staff.get("/api/admin/chat").status_code == 200
    set_role(owner, "staff", ["attachments.read", "chat.read", "expenses.read", "requests.read"])
    assert staff.get(f"/api/admin/expenses/{expense_id}/attachments").status_code == 200
    assert staff.get(f"/api/admin/attachments/{receipt['id']}").status_code == 200
    assert staff.get(f"/api/admin/service-requests/{request_id}/chat").status_code == 200


def test_finding_5_the_contact_inbox_is_in_the_matrix(app, db, perm_tenant):
    t = perm_tenant
    owner, admin, staff = (signed_in(app, t[r]) for r in ("owner", "admin", "staff"))
    assert admin.get("/api/admin/contact-submissions").status_code == 200
    assert code(staff.get("/api/admin/contact-submissions")) == "role_required"
    set_role(owner, "admin", ["team.read"])  # an admin without contact.read: refused
    assert code(admin.get("/api/admin/contact-submissions")) == "role_required"
    set_role(owner, "staff", ["contact.read"])  # staff given it: allowed
    assert staff.get("/api/admin/contact-submissions").status_code == 200


def test_finding_5_team_manage_does_not_let_staff_make_themselves_admin(app, db, perm_tenant):
    t = perm_tenant
    owner, staff = signed_in(app, t["owner"]), signed_in(app, t["staff"])
    set_role(owner, "staff", ["team.read", "team.manage", "permissions.manage"])
    r = staff.patch(f"/api/admin/team-members/{t['staff'].user_id}", json={"role": "admin"})
    assert r.status_code == 403 and code(r) == "own_role_change"
    # Nor by widening their own role's permissions.
    r = staff.put("/api/admin/permissions/staff", json={"permissions": ["team.read"]})
    assert r.status_code == 403 and code(r) == "own_role_change"
    me = staff.get("/api/tenant/current").json()
    assert me["role"] == "staff"


def test_finding_5_an_admin_cannot_approve_their_own_9_000_000_cent_expense(app, db, perm_tenant):
    t = perm_tenant
    admin, owner = signed_in(app, t["admin"]), signed_in(app, t["owner"])
    own = admin.post(
        "/api/admin/expenses",
        json={"amount_cents": 9_000_000, "category": "yacht", "incurred_on": str(date.today())},
    ).json()
    assert own["status"] == "submitted"
    r = admin.post(f"/api/admin/expenses/{own['id']}/approve")
    assert r.status_code == 403 and code(r) == "self_approval"
    with tenant_context(TenantContext(tenant_id=t.id)), db.session() as s:
        assert s.scalar(select(Expense.status).where(Expense.id == uuid.UUID(own["id"]))) == (
            "submitted"
        )
    # Someone else may; so may a role the tenant explicitly allows self-approval.
    assert owner.post(f"/api/admin/expenses/{own['id']}/approve").json()["status"] == "approved"
    mine = admin.post(
        "/api/admin/expenses",
        json={"amount_cents": 100, "category": "fuel", "incurred_on": str(date.today())},
    ).json()
    from tenantry.permissions.catalog import DEFAULT_MATRIX

    set_role(owner, "admin", [*DEFAULT_MATRIX["admin"], "expenses.approve_own"])
    assert admin.post(f"/api/admin/expenses/{mine['id']}/approve").status_code == 200


# ============================================================== findings 6 and 9: webhook


def make_sent_invoice(db, tenant, total: int = 4200) -> uuid.UUID:
    data = InvoiceCreate(
        client_id=tenant["client"].user_id,
        lines=[InvoiceLineIn(description="Work", quantity=1, unit_price_cents=total)],
    )
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        invoice = invoice_service.create_invoice(s, data=data)
        invoice_service.transition(s, invoice_id=invoice.id, action="send")
        return invoice.id


def invoice_status(db, tenant, invoice_id) -> str:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return str(s.scalar(select(Invoice.status).where(Invoice.id == invoice_id)))


def deliver(client, settings, tenant, invoice_id, **paid) -> object:
    body = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                **paid,
                "metadata": {"invoice_id": str(invoice_id), "tenant_id": str(tenant.id)},
            }
        },
    }
    raw = json.dumps(body).encode()
    return client.post(
        WEBHOOK,
        content=raw,
        headers={
            "Tenantry-Signature": sign_payload(settings.webhook_secret, raw),
            "content-type": "application/json",
        },
    )


def test_finding_9_a_signed_event_without_amount_or_currency_is_refused(client, db, settings):
    t = make_tenant(db, roles=("client",))
    invoice_id = make_sent_invoice(db, t)
    for paid in ({}, {"currency": "usd"}, {"amount": 4200}):
        r = deliver(client, settings, t, invoice_id, **paid)
        assert r.status_code == 400 and code(r) == "invalid_event", paid
        assert "data.object." in r.json()["error"]["message"]
    assert invoice_status(db, t, invoice_id) == "sent"


def test_finding_9_amount_and_currency_must_match_the_invoice(client, db, settings):
    t = make_tenant(db, roles=("client",))
    invoice_id = make_sent_invoice(db, t)
    for amount, currency in ((1, "usd"), (4200, "eur")):
        r = deliver(client, settings, t, invoice_id, amount=amount, currency=currency)
        assert r.status_code == 200 and r.json() == {"status": "recorded"}
        assert invoice_status(db, t, invoice_id) == "sent"
    r = deliver(client, settings, t, invoice_id, amount=4200, currency="usd")
    assert r.json() == {"status": "processed"} and invoice_status(db, t, invoice_id) == "paid"


def test_finding_6_a_suspended_tenant_neither_mails_reminders_nor_takes_payments(
    mail_client, mailbox, db, settings, mail_tenant
):
    """Before: a suspended tenant's reminders were emailed and a signed payment webhook
    marked its invoice paid. Now both are held — stored, not applied, not lost — and
    happen once the tenant is active again."""
    from tenantry.tenants.audit_log import Actor
    from tenantry.tenants.lifecycle import reactivate_tenant, suspend_tenant

    t = mail_tenant
    login(mail_client, t["staff"])
    rid = schedule(mail_client, make_request(db, t))
    invoice_id = make_sent_invoice(db, t)
    suspend_tenant(db, slug=t.slug, reason="finding 6 replay", actor=Actor.command_line())
    try:
        make_all_due(db, t)
        run_worker(db, mail_settings(settings, mailbox.port))
        paid = deliver(mail_client, settings, t, invoice_id, amount=4200, currency="usd")
        assert paid.status_code == 200 and paid.json() == {"status": "held"}
        assert not mailbox.to(t["client"].email)
        assert invoice_status(db, t, invoice_id) == "sent"
        assert held_count(db, t.id) == 1
        with pytest.raises(TenantNotActive):
            release_held_work(db, t.id)
    finally:
        # Reactivation (tenantry tenant reactivate, the operator API) releases the hold.
        reactivate_tenant(db, slug=t.slug, reason="finding 6 replay", actor=Actor.command_line())
    assert held_count(db, t.id) == 0
    assert invoice_status(db, t, invoice_id) == "paid"
    run_worker(db, mail_settings(settings, mailbox.port))
    assert len(mailbox.to(t["client"].email)) == 1
    login(mail_client, t["staff"])
    assert reminder(mail_client, rid)["status"] == "sent"
    again = release_held_work(db, t.id)  # idempotent: nothing is released twice
    assert (again.jobs, again.payment_events) == (0, 0)


# ============================================================== finding 10: the database


SET_TENANT = text("select set_config('app.current_tenant_id', :t, true)")


def app_sql(db, statement: str, tenant=None, **params):
    """Run ``statement`` as the app role (optionally pinned to a tenant); rolled back."""
    with db.app_engine.connect() as conn:
        try:
            if tenant is not None:
                conn.execute(SET_TENANT, {"t": str(tenant.id)})
            return conn.execute(text(statement), params).all()
        finally:
            conn.rollback()


def refused_as_app(db, statement: str, tenant=None, **params) -> str:
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as caught:
        app_sql(db, statement, tenant, **params)
    return str(caught.value.orig)


def test_finding_10_the_app_role_cannot_touch_alembic_version(db):
    for statement in (
        "select * from alembic_version",
        "delete from alembic_version",
        "update alembic_version set version_num = 'x'",
    ):
        assert "permission denied" in refused_as_app(db, statement)


def test_finding_10_the_app_role_sees_and_writes_only_its_tenants_job_arguments(
    mail_client, db, mail_tenant
):
    a, b = mail_tenant, make_tenant(db, roles=("staff", "client"))
    for t in (a, b):
        login(mail_client, t["staff"])
        schedule(mail_client, make_request(db, t))
    # No tenant pinned: no job at all. Pinned to A: only A's.
    assert app_sql(db, "select args from procrastinate_jobs") == []
    seen = {row[0]["tenant_id"] for row in app_sql(db, "select args from procrastinate_jobs", a)}
    assert seen == {str(a.id)}
    # Writing B's jobs, or a job for B, from A's transaction: nothing / refused.
    assert (
        app_sql(
            db,
            "update procrastinate_jobs set args = '{}' where args->>'tenant_id' = :b returning id",
            a,
            b=str(b.id),
        )
        == []
    )
    message = refused_as_app(
        db,
        "insert into procrastinate_jobs (queue_name, task_name, args) "
        "values ('default', 'reminders.send', jsonb_build_object('tenant_id', cast(:b as text)))",
        a,
        b=str(b.id),
    )
    assert "row-level security" in message
    assert "permission denied" in refused_as_app(db, "delete from procrastinate_jobs", a)
    assert "permission denied" in refused_as_app(db, "select * from procrastinate_workers")


@pytest.mark.parametrize(
    "statement",
    [
        "select lo_create(0)",
        "select lo_from_bytea(0, 'x')",
        "create temp table scratch (x int)",
        "create function pwn() returns int language sql as 'select 1'",
        "create function pg_temp.pwn() returns int language sql as 'select 1'",
        "create table public.scratch (x int)",
        "create schema scratch",
    ],
)
def test_finding_10_the_app_role_cannot_create_large_objects_temp_objects_or_functions(
    db, statement
):
    assert "permission denied" in refused_as_app(db, statement)


def test_finding_10_the_servers_check_the_roles_passwords(db, settings):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    urls = db.urls
    if settings.database_url:
        pytest.skip("DATABASE_URL: the server's own pg_hba.conf decides (audited instead)")
    for url in (urls.app, urls.migrator, urls.worker):
        engine = create_engine(url.set(password="not-the-password"))
        try:
            with pytest.raises(OperationalError, match="password authentication failed"):
                engine.connect().close()
        finally:
            engine.dispose()
        good = create_engine(url)
        try:
            with good.connect() as conn:
                assert conn.execute(text("select current_user")).scalar() == url.username
        finally:
            good.dispose()

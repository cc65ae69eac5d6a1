"""Reminders: schedule/list/cancel over HTTP; sending by the job worker to a real SMTP server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from tenantry.bookings.models import Booking
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.jobs import JobEnv, build_job_app
from tenantry.reminders.models import ScheduledReminder
from tenantry.services.models import Service
from tests.factories import make_tenant
from tests.helpers import code, login, module_tenant
from tests.integration.api import mailbox as smtp
from tests.integration.api.mailbox import mail_settings
from tests.integration.api.test_attachments import make_request
from tests.ports import refused_port

mailbox = smtp.mailbox
mail_app = smtp.mail_app
mail_client = smtp.mail_client

PATH = "/api/admin/reminders"


tenant_a = module_tenant("tenant_a")


tenant_b = module_tenant("tenant_b")


def make_booking(db, tenant) -> uuid.UUID:
    start = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        svc = Service(
            slug="svc-" + uuid.uuid4().hex[:8],
            name="Boiler service",
            price_cents=9000,
            duration_minutes=60,
        )
        s.add(svc)
        s.flush()
        booking = Booking(
            client_id=tenant["client"].user_id,
            service_id=svc.id,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        )
        s.add(booking)
        s.flush()
        return booking.id


def later(hours: float = 1) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def reminder_count(db, tenant) -> int:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return s.scalar(select(func.count()).select_from(ScheduledReminder)) or 0


def jobs_of(db, tenant) -> list[dict]:
    with db.migrator_engine.begin() as conn:  # the job queue is under RLS for the app
        rows = (
            conn.execute(
                text(
                    "select id, task_name, status::text as status, scheduled_at, lock, args "
                    "from procrastinate_jobs where args->>'tenant_id' = :t order by id"
                ),
                {"t": str(tenant.id)},
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def make_due(db, tenant) -> None:
    """Move the tenant's pending reminders and queued jobs to the past (no waiting)."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.execute(
            update(ScheduledReminder)
            .where(ScheduledReminder.status == "pending")
            .values(send_at=past)
        )
    with db.migrator_engine.begin() as conn:  # the job queue is under RLS for the app
        conn.execute(
            text(
                "update procrastinate_jobs set scheduled_at = now() - interval '1s' "
                "where status = 'todo' and args->>'tenant_id' = :t"
            ),
            {"t": str(tenant.id)},
        )


def run_worker(db, settings) -> None:
    build_job_app(JobEnv(db=db, settings=settings)).run_worker(
        wait=False, install_signal_handlers=False, listen_notify=False
    )


# ------------------------------------------------------------------ HTTP


def test_staff_schedules_a_reminder_and_a_job_is_queued_for_send_at(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["staff"])
    send_at = later(3)
    r = client.post(
        PATH,
        json={
            "service_request_id": str(request_id),
            "send_at": send_at,
            "note": "Please leave the side gate open.",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending" and body["channel"] == "email"
    assert body["payload"]["subject"] == "Reminder: Leaking tap"
    [job] = [
        j for j in jobs_of(db, tenant_a) if j["scheduled_at"] == datetime.fromisoformat(send_at)
    ]
    # One job per reminder, and no lock: no job ever waits for another.
    assert job["task_name"] == "reminders.send" and job["status"] == "todo"
    assert job["args"] == {"tenant_id": str(tenant_a.id), "reminder_id": body["id"]}
    assert job["lock"] is None
    got = client.get(f"{PATH}/{body['id']}")
    assert got.status_code == 200 and got.json()["id"] == body["id"]


def test_staff_schedules_a_reminder_for_a_booking(client, db, tenant_a):
    booking = make_booking(db, tenant_a)
    login(client, tenant_a["admin"])
    r = client.post(PATH, json={"booking_id": str(booking), "send_at": later()})
    assert r.status_code == 201, r.text
    assert "Thursday 03 December at 09:30" in r.json()["payload"]["subject"]


def test_client_may_not_manage_reminders(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["client"])
    before = reminder_count(db, tenant_a)
    for r in (
        client.get(PATH),
        client.post(PATH, json={"service_request_id": str(request_id), "send_at": later()}),
        client.get(f"{PATH}/{uuid.uuid4()}"),
        client.post(f"{PATH}/{uuid.uuid4()}/cancel"),
    ):
        assert r.status_code == 403 and code(r) == "role_required"
    assert reminder_count(db, tenant_a) == before


def test_staff_of_a_cannot_schedule_for_a_booking_or_request_of_b(client, db, tenant_a, tenant_b):
    request_b, booking_b = make_request(db, tenant_b), make_booking(db, tenant_b)
    login(client, tenant_a["staff"])
    before = (
        reminder_count(db, tenant_a),
        reminder_count(db, tenant_b),
        len(jobs_of(db, tenant_a)),
        len(jobs_of(db, tenant_b)),
    )
    r = client.post(PATH, json={"service_request_id": str(request_b), "send_at": later()})
    assert r.status_code == 422 and code(r) == "unknown_service_request"
    r = client.post(PATH, json={"booking_id": str(booking_b), "send_at": later()})
    assert r.status_code == 422 and code(r) == "unknown_booking"
    assert before == (
        reminder_count(db, tenant_a),
        reminder_count(db, tenant_b),
        len(jobs_of(db, tenant_a)),
        len(jobs_of(db, tenant_b)),
    )


@pytest.mark.parametrize(
    "body",
    [
        {"send_at": "2030-01-01T10:00:00+00:00"},  # no target
        {
            "service_request_id": "REQ",
            "booking_id": str(uuid.uuid4()),
            "send_at": "2030-01-01T10:00:00+00:00",
        },  # two targets
        {"service_request_id": "REQ", "send_at": "2020-01-01T10:00:00+00:00"},  # past
        {"service_request_id": "REQ", "send_at": "2030-01-01T10:00:00"},  # naive
        {"service_request_id": "REQ", "send_at": "2030-01-01T10:00:00+00:00", "channel": "sms"},
        {"service_request_id": "REQ", "send_at": "2030-01-01T10:00:00+00:00", "note": "x" * 2001},
        {
            "service_request_id": "REQ",
            "send_at": "2030-01-01T10:00:00+00:00",
            "tenant_id": str(uuid.uuid4()),
        },
    ],
)
def test_invalid_reminders_are_422_and_nothing_is_stored(client, db, tenant_a, body):
    request_id = make_request(db, tenant_a)
    body = {k: (str(request_id) if v == "REQ" else v) for k, v in body.items()}
    login(client, tenant_a["staff"])
    before = (reminder_count(db, tenant_a), len(jobs_of(db, tenant_a)))
    r = client.post(PATH, json=body)
    assert r.status_code == 422 and code(r) == "validation_error"
    assert before == (reminder_count(db, tenant_a), len(jobs_of(db, tenant_a)))


def test_list_shows_only_this_tenants_reminders_and_filters_by_status(
    client, db, tenant_a, tenant_b
):
    request_b = make_request(db, tenant_b)
    login(client, tenant_b["staff"])
    b_reminder = client.post(
        PATH, json={"service_request_id": str(request_b), "send_at": later()}
    ).json()
    login(client, tenant_a["staff"])
    ids = [r["id"] for r in client.get(PATH, params={"limit": 200}).json()["items"]]
    assert b_reminder["id"] not in ids
    cancelled = client.get(PATH, params={"status": "cancelled", "limit": 200}).json()["items"]
    assert all(r["status"] == "cancelled" for r in cancelled)
    assert client.get(PATH, params={"status": "bogus"}).status_code == 422


def test_cancel_a_pending_reminder_once(client, db, tenant_a):
    request_id = make_request(db, tenant_a)
    login(client, tenant_a["staff"])
    rid = client.post(
        PATH, json={"service_request_id": str(request_id), "send_at": later()}
    ).json()["id"]
    r = client.post(f"{PATH}/{rid}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = client.post(f"{PATH}/{rid}/cancel")
    assert again.status_code == 409 and code(again) == "invalid_transition"


def test_staff_of_a_cannot_read_or_cancel_a_reminder_of_b(client, db, tenant_a, tenant_b):
    request_b = make_request(db, tenant_b)
    login(client, tenant_b["staff"])
    rid = client.post(PATH, json={"service_request_id": str(request_b), "send_at": later()}).json()[
        "id"
    ]
    login(client, tenant_a["owner"])
    assert client.get(f"{PATH}/{rid}").status_code == 404
    r = client.post(f"{PATH}/{rid}/cancel")
    assert r.status_code == 404 and code(r) == "not_found"
    with tenant_context(TenantContext(tenant_id=tenant_b.id)), db.session() as s:
        status = s.scalar(
            select(ScheduledReminder.status).where(ScheduledReminder.id == uuid.UUID(rid))
        )
    assert status == "pending"


# ------------------------------------------------------------------ sending (worker)


def test_the_worker_mails_due_reminders_and_marks_them_sent(
    mail_client, mailbox, db, settings, tenant_a
):
    tenant = make_tenant(db)  # a fresh tenant: only this test's reminders
    request_id = make_request(db, tenant)
    login(mail_client, tenant["staff"])
    sent_id = mail_client.post(
        PATH,
        json={"service_request_id": str(request_id), "send_at": later(), "note": "Gate code 4711."},
    ).json()["id"]
    cancelled_id = mail_client.post(
        PATH, json={"service_request_id": str(request_id), "send_at": later()}
    ).json()["id"]
    mail_client.post(f"{PATH}/{cancelled_id}/cancel")
    make_due(db, tenant)
    run_worker(db, mail_settings(settings, mailbox.port))

    [message] = mailbox.to(tenant["client"].email)
    assert message["Subject"] == "Reminder: Leaking tap"
    assert "Gate code 4711." in message.get_payload(decode=True).decode()
    reminder = mail_client.get(f"{PATH}/{sent_id}").json()
    assert reminder["status"] == "sent" and reminder["sent_at"] and reminder["attempts"] == 1
    assert mail_client.get(f"{PATH}/{cancelled_id}").json()["status"] == "cancelled"
    # The sent reminder's job succeeded; the cancelled reminder's job was cancelled.
    assert sorted(j["status"] for j in jobs_of(db, tenant)) == ["cancelled", "succeeded"]


def test_two_tenants_reminders_each_reach_their_own_client(mail_client, mailbox, db, settings):
    one, two = make_tenant(db), make_tenant(db)
    for tenant in (one, two):
        login(mail_client, tenant["staff"])
        mail_client.post(
            PATH,
            json={
                "service_request_id": str(make_request(db, tenant)),
                "send_at": later(),
                "note": f"for {tenant.slug}",
            },
        )
        make_due(db, tenant)
    run_worker(db, mail_settings(settings, mailbox.port))
    for tenant, other in ((one, two), (two, one)):
        [message] = mailbox.to(tenant["client"].email)
        text_ = message.get_payload(decode=True).decode()
        assert f"for {tenant.slug}" in text_ and other.slug not in text_
        assert not mailbox.to(other["owner"].email)
        with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
            assert s.scalars(select(ScheduledReminder.status)).all() == ["sent"]


def test_a_mail_server_that_is_down_leaves_the_reminder_pending_for_a_retry(
    mail_client, db, settings
):
    tenant = make_tenant(db)
    login(mail_client, tenant["staff"])
    rid = mail_client.post(
        PATH, json={"service_request_id": str(make_request(db, tenant)), "send_at": later()}
    ).json()["id"]
    make_due(db, tenant)
    with refused_port() as port:  # nothing listens there
        run_worker(db, mail_settings(settings, port))
    reminder = mail_client.get(f"{PATH}/{rid}").json()
    assert reminder["status"] == "pending" and reminder["attempts"] == 1
    assert reminder["payload"]["error"] == "mail server unavailable"
    # The job itself is retried later (backoff), not a new one.
    [job] = jobs_of(db, tenant)
    assert job["status"] == "todo" and job["scheduled_at"] > datetime.now(UTC)


# ------------------------------------------------------------------ demo data


def test_demo_fillers_for_chat_reminders_and_attachments_run_once(db, settings):
    from tenantry.attachments import demo as attachments_demo
    from tenantry.attachments.models import Attachment
    from tenantry.bookings import demo as bookings_demo
    from tenantry.chat import demo as chat_demo
    from tenantry.chat.models import ChatMessage
    from tenantry.kit.demo import DemoTenant
    from tenantry.service_requests import demo as requests_demo
    from tenantry.tenants.lifecycle import TenantRef, add_member
    from tests.factories import make_user

    tenant = make_tenant(db)
    consultant = make_user(db)
    add_member(db, tenant_id=tenant.id, user_id=consultant.user_id, role="staff")
    users = {r: m.user_id for r, m in tenant.members.items()}
    demo = DemoTenant(
        TenantRef(tenant.id, tenant.slug, "Demo"), {**users, "consultant": consultant.user_id}
    )
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(Service(slug="clean", name="Clean", price_cents=9000, duration_minutes=120))
    bookings_demo.fill(db, demo)
    requests_demo.fill(db, demo)

    def rows():
        with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
            return (
                len(s.scalars(select(ChatMessage.id)).all()),
                sorted(s.scalars(select(ScheduledReminder.status))),
                sorted(s.scalars(select(Attachment.scan_status))),
            )

    for _ in range(2):
        for fill in (chat_demo.fill, attachments_demo.fill):
            fill(db, demo)
        from tenantry.reminders import demo as reminders_demo

        reminders_demo.fill(db, demo)
    chats, reminders, attachments = rows()
    assert chats >= 8
    assert {"pending", "cancelled"} <= set(reminders) and len(reminders) >= 5
    assert attachments == ["clean", "pending"]
    pending_jobs = [j for j in jobs_of(db, tenant) if j["status"] == "todo"]
    assert len(pending_jobs) == reminders.count("pending")

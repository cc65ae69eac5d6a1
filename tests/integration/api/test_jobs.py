"""The job runner: every job runs in the tenant it names, a job without one is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from tenantry import jobs
from tenantry.isolation.context import (
    TenantContext,
    TenantContextMissing,
    current_context,
    tenant_context,
)
from tenantry.jobs import JobEnv, build_job_app, tenant_task
from tenantry.reminders.models import ScheduledReminder
from tests.factories import make_tenant
from tests.integration.api.test_attachments import make_request

SEEN: dict[int, dict] = {}
CALLS: list[str] = []


@tenant_task("tests.jobs.snapshot")
def snapshot(env: JobEnv, *, tenant_id: uuid.UUID, marker: str) -> None:
    """What a job can see: the context, and reminders through the ORM and raw SQL."""
    CALLS.append(marker)
    ctx = current_context()
    with env.db.session() as s:
        orm = s.scalars(select(ScheduledReminder.tenant_id)).all()
        raw = s.execute(text("select tenant_id from scheduled_reminders")).scalars().all()
    SEEN[marker] = {"ctx": ctx, "tenant_id": tenant_id, "orm": set(orm), "raw": set(raw)}


@pytest.fixture(scope="module")
def tenants(db):
    return make_tenant(db), make_tenant(db)


def add_reminder(db, tenant) -> None:
    request_id = make_request(db, tenant)
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        s.add(
            ScheduledReminder(
                service_request_id=request_id,
                channel="email",
                send_at=datetime.now(UTC) + timedelta(days=1),
            )
        )


def defer_for(db, tenant, **kwargs) -> int:
    with tenant_context(TenantContext(tenant_id=tenant.id)), db.session() as s:
        return jobs.defer(s, "tests.jobs.snapshot", **kwargs)


def job_status(db, job_id: int) -> str | None:
    with db.migrator_engine.begin() as conn:  # the job queue is under RLS for the app
        return conn.execute(
            text("select status::text from procrastinate_jobs where id = :i"), {"i": job_id}
        ).scalar()


def run_worker(db, settings) -> None:
    build_job_app(JobEnv(db=db, settings=settings)).run_worker(
        wait=False, install_signal_handlers=False, listen_notify=False
    )


def test_a_job_runs_in_its_tenants_context_and_sees_only_its_rows(db, settings, tenants):
    a, b = tenants
    add_reminder(db, a)
    add_reminder(db, b)
    marker_a, marker_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    job_a = defer_for(db, a, marker=marker_a)
    job_b = defer_for(db, b, marker=marker_b)
    run_worker(db, settings)
    assert job_status(db, job_a) == job_status(db, job_b) == "succeeded"
    for marker, tenant in ((marker_a, a), (marker_b, b)):
        seen = SEEN[marker]
        assert seen["ctx"].tenant_id == tenant.id and seen["ctx"].scope == "tenant"
        assert seen["tenant_id"] == tenant.id
        # The guard (ORM) and RLS (raw SQL) both confine the job to its tenant.
        assert seen["orm"] == {tenant.id} and seen["raw"] == {tenant.id}


def test_a_job_without_a_tenant_id_is_refused_and_its_body_never_runs(db, settings):
    app = build_job_app(JobEnv(db=db, settings=settings))
    app.open()
    try:
        missing = app.configure_task("tests.jobs.snapshot").defer(marker="no-tenant")
        bogus = app.configure_task("tests.jobs.snapshot").defer(
            marker="bogus-tenant", tenant_id="not-a-uuid"
        )
    finally:
        app.close()
    run_worker(db, settings)
    assert job_status(db, missing) == "failed" and job_status(db, bogus) == "failed"
    assert "no-tenant" not in CALLS and "bogus-tenant" not in CALLS


def test_defer_takes_the_tenant_from_the_context_never_from_an_argument(db, tenants):
    a, b = tenants
    with (
        tenant_context(TenantContext(tenant_id=a.id)),
        db.session() as s,
        pytest.raises(ValueError),
    ):
        jobs.defer(s, "tests.jobs.snapshot", marker="x", tenant_id=str(b.id))
    with db.session() as s, pytest.raises(TenantContextMissing):
        jobs.defer(s, "tests.jobs.snapshot", marker="x")
    with (
        tenant_context(TenantContext(tenant_id=a.id)),
        db.session() as s,
        pytest.raises(ValueError),
    ):
        jobs.defer(s, "no.such.task")


def test_a_job_deferred_in_a_rolled_back_transaction_does_not_exist(db, tenants):
    a, _ = tenants

    class Boom(Exception):
        pass

    job_id = None
    with pytest.raises(Boom), tenant_context(TenantContext(tenant_id=a.id)), db.session() as s:
        job_id = jobs.defer(s, "tests.jobs.snapshot", marker="rolled-back")
        raise Boom
    assert job_id is not None and job_status(db, job_id) is None

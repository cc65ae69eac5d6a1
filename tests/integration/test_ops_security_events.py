"""The operator view's events table stays small under a flood of one refusal.

A tenant hammering a refused route must not cost a row (and a database write) per
request: repeats of one event between two writes are one row with a count, and every
tally of the operator view sums the counts, so nothing is lost from the figures.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tenantry.app import create_app
from tenantry.auth.models import User
from tenantry.db.engine import Database
from tenantry.observability.models import OpsSecurityEvent
from tenantry.observability.recorder import Recorder
from tenantry.observability.security import SecurityEvent
from tenantry.settings import Settings
from tests.factories import make_tenant, make_user
from tests.helpers import login

FLOOD = 30


def _rows_of(db: Database, tenant: uuid.UUID) -> list[tuple[str, str | None, int]]:
    with db.system_session(reason="test: read the operator view's rows") as s:
        rows = s.execute(
            select(OpsSecurityEvent.code, OpsSecurityEvent.request_id, OpsSecurityEvent.count)
            .where(OpsSecurityEvent.actor_tenant_id == tenant)
            .order_by(OpsSecurityEvent.id)
        ).all()
    return [(code, request_id, count) for code, request_id, count in rows]


def test_a_flood_of_one_refusal_is_counted_in_full_in_a_few_rows(
    settings: Settings, db: Database
) -> None:
    # The security sink is process-wide and records into the latest app built: this one.
    app = create_app(settings, db)
    attacker = make_tenant(db, roles=("owner",))
    operator = make_user(db)
    with db.system_session(reason="test: make a platform operator") as s:
        s.execute(update(User).where(User.id == operator.user_id).values(is_superadmin=True))
    with TestClient(app) as c:
        login(c, attacker["owner"])
        sig = c.cookies.get("tenant_sig")
        c.cookies.set("tenant_sig", sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"))
        first_id = None
        for _ in range(FLOOD):
            r = c.get("/api/tenant/current")
            assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_sig_invalid"
            first_id = first_id or r.headers["x-request-id"]
        c.cookies.clear()
        login(c, operator)
        view = c.get("/api/ops/security", params={"hours": 1})  # writes what is buffered
        assert view.status_code == 200, view.text

    rows = _rows_of(db, attacker.id)
    assert sum(count for _, _, count in rows) == FLOOD
    # The recorder writes every 2 s, so a slow run may split the flood; never a row each.
    assert 1 <= len(rows) <= FLOOD // 3, rows
    assert rows[0][1] == first_id  # a row keeps its first event's request id
    top = {o["label"]: o["count"] for o in view.json()["top_tenants"]}
    assert top[attacker.slug] == FLOOD
    recent = [e for e in view.json()["recent"] if e["tenant"] == attacker.slug]
    assert sum(e["count"] for e in recent) == FLOOD


def _event(code: str, tenant: uuid.UUID, path: str) -> SecurityEvent:
    return SecurityEvent(code=code, tenant_id=tenant, client="198.51.100.7", path=path)


def test_only_identical_events_share_a_row_and_the_buffer_stays_bounded(db: Database) -> None:
    tenant = uuid.uuid4()
    recorder = Recorder(db.app_engine, interval_s=3600, max_buffer=3)
    try:
        for _ in range(500):
            recorder.add_event(_event("rate_limited", tenant, "/api/a"), "t")
        recorder.add_event(_event("rate_limited", tenant, "/api/b"), "t")  # another path
        recorder.add_event(_event("not_a_member", tenant, "/api/a"), "t")  # another code
        recorder.flush()
        rows = _rows_of(db, tenant)
        assert sorted(count for _, _, count in rows) == [1, 1, 500]
        # Past max_buffer distinct events, the oldest unsaved one gives way.
        for n in range(4):
            recorder.add_event(_event("rate_limited", tenant, f"/api/{n}"), "t")
        recorder.flush()
        with db.system_session(reason="test: read the operator view's rows") as s:
            paths = s.scalars(
                select(OpsSecurityEvent.path)
                .where(OpsSecurityEvent.actor_tenant_id == tenant)
                .where(OpsSecurityEvent.path.like("/api/_"))
            ).all()
            total = s.scalar(select(func.count()).where(OpsSecurityEvent.actor_tenant_id == tenant))
        assert sorted(paths) == ["/api/1", "/api/2", "/api/3", "/api/a", "/api/a", "/api/b"]
        assert total == 6
    finally:
        recorder.stop()


def test_a_flush_writes_every_tenants_traffic_in_one_statement_and_adds_up(db: Database) -> None:
    """Every 2 s each worker writes the per-minute request counts of every tenant label;
    built and sent one statement per label, a flush cost ~10 ms of CPU in the worker
    (holding the GIL its event loop needs). One statement for all labels, and counts
    written twice in one minute add up."""
    from sqlalchemy import event

    from tenantry.observability.models import OpsTraffic

    labels = [f"traffic-{uuid.uuid4().hex[:8]}" for _ in range(25)]
    recorder = Recorder(db.app_engine, interval_s=3600)
    sent: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "ops_traffic" in statement and statement.lstrip().upper().startswith("INSERT"):
            sent.append(statement)

    event.listen(db.app_engine, "before_cursor_execute", count)
    try:
        for _ in range(2):  # the second flush lands on the rows the first wrote
            for n, label in enumerate(labels):
                for _ in range(n + 1):
                    recorder.count_request(label, error=n % 2 == 0)
            recorder.flush()
        assert len(sent) == 2  # one INSERT per flush, whatever the number of labels
        with db.system_session(reason="test: read the traffic rows") as s:
            rows = s.execute(
                select(
                    OpsTraffic.tenant_label,
                    func.sum(OpsTraffic.requests),
                    func.sum(OpsTraffic.errors),
                )
                .where(OpsTraffic.tenant_label.in_(labels))
                .group_by(OpsTraffic.tenant_label)
            ).all()
        got = {label: (requests, errors) for label, requests, errors in rows}
        assert got == {
            label: (2 * (n + 1), 2 * (n + 1) if n % 2 == 0 else 0) for n, label in enumerate(labels)
        }
        with db.system_session(reason="test: read the traffic minutes") as s:
            minutes = set(
                s.scalars(select(OpsTraffic.minute).where(OpsTraffic.tenant_label.in_(labels)))
            )
        now = datetime.now(UTC)
        for minute in minutes:  # the UTC minute the requests were counted in
            assert minute.second == 0 and minute.microsecond == 0, minute
            assert timedelta(0) <= now - minute < timedelta(minutes=2), (now, minute)
    finally:
        event.remove(db.app_engine, "before_cursor_execute", count)
        recorder.stop()

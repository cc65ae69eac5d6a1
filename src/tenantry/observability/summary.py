"""The security view's data, read from the two ``ops_`` tables.

An events row may stand for several identical events (its ``count``), so every tally
sums the counts instead of counting rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import String, cast, desc, func, literal, literal_column, select
from sqlalchemy.engine import Engine

from tenantry.auth.models import User
from tenantry.db.tenant import Tenant
from tenantry.observability.labels import OTHER
from tenantry.observability.models import OpsSecurityEvent, OpsTraffic

POINTS = 72  # points per plot, whatever the window
TOP = 10
SERIES = 10  # lines per plot: the busiest tenants, the rest summed into `other`
RECENT = 50
# By position: the bucket expression carries bound values, and PostgreSQL would not
# see a second rendering of it in GROUP BY as the same expression.
_BY_FIRST_TWO: tuple[Any, ...] = (literal_column("1"), literal_column("2"))


class Series(BaseModel):
    tenant: str = Field(description="Tenant label (slug, `other` or `none`).")
    points: list[tuple[datetime, int]]


class Offender(BaseModel):
    key: str
    label: str
    count: int


class RecentEvent(BaseModel):
    occurred_at: datetime = Field(description="When the first of these events happened.")
    code: str
    count: int = Field(description="How many identical events this line stands for.")
    tenant: str | None
    user_id: uuid.UUID | None
    client: str | None
    request_id: str | None
    path: str | None


class SecuritySummary(BaseModel):
    since: datetime
    until: datetime
    bucket_seconds: int
    requests: list[Series]
    errors: list[Series]
    security_events: list[Series]
    by_code: dict[str, int]
    top_tenants: list[Offender]
    top_users: list[Offender]
    top_addresses: list[Offender]
    recent: list[RecentEvent]


def _bucketed(
    rows: list[tuple[datetime, str, int]], since: datetime, step: timedelta
) -> list[Series]:
    by_tenant: dict[str, dict[datetime, int]] = {}
    for bucket, tenant, count in rows:
        counts = by_tenant.setdefault(tenant, {})
        counts[bucket] = counts.get(bucket, 0) + count
    ranked = sorted(by_tenant.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    if len(ranked) > SERIES:
        # Every request stays on the plot: the quiet tenants are summed, not dropped.
        shown = [(t, c) for t, c in ranked if t != OTHER][: SERIES - 1]
        names = {tenant for tenant, _ in shown}
        rest: dict[datetime, int] = {}
        for tenant, counts in ranked:
            if tenant not in names:
                for bucket, count in counts.items():
                    rest[bucket] = rest.get(bucket, 0) + count
        ranked = [*shown, (OTHER, rest)]
    buckets = [since + step * i for i in range(POINTS)]
    return [
        Series(tenant=tenant, points=[(b, counts.get(b, 0)) for b in buckets])
        for tenant, counts in ranked
    ]


def security_summary(engine: Engine, *, hours: int) -> SecuritySummary:
    step = timedelta(seconds=max(60, hours * 3600 // POINTS))
    until = datetime.now(UTC)
    # Buckets aligned to the step, the last one holding "now".
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    last = origin + step * ((until - origin) // step)
    since = last - step * (POINTS - 1)

    def binned(column: object) -> object:
        return func.date_bin(step, column, literal(origin))

    events = OpsSecurityEvent
    window = events.occurred_at >= since
    tally = func.sum(events.count)
    with engine.connect() as conn:
        traffic_bin = binned(OpsTraffic.minute).label("bucket")  # type: ignore[attr-defined]
        traffic = conn.execute(
            select(
                traffic_bin,
                OpsTraffic.tenant_label,
                func.sum(OpsTraffic.requests),
                func.sum(OpsTraffic.errors),
            )
            .where(OpsTraffic.minute >= since)
            .group_by(*_BY_FIRST_TWO)
        ).all()
        event_bin = binned(events.occurred_at).label("bucket")  # type: ignore[attr-defined]
        security = conn.execute(
            select(event_bin, events.tenant_label, tally).where(window).group_by(*_BY_FIRST_TWO)
        ).all()
        by_code = dict(
            conn.execute(select(events.code, tally).where(window).group_by(events.code)).all()
        )
        top_tenants = conn.execute(
            _top(
                select(
                    func.coalesce(cast(events.actor_tenant_id, String), "none"),
                    func.coalesce(func.max(Tenant.slug), func.max(events.tenant_label)),
                    tally,
                )
                .select_from(events)
                .outerjoin(Tenant, Tenant.id == events.actor_tenant_id)
                .where(window)
                .group_by(events.actor_tenant_id)
            )
        ).all()
        top_users = conn.execute(
            _top(
                select(
                    cast(events.user_id, String),
                    func.coalesce(func.max(User.email), "(deleted user)"),
                    tally,
                )
                .select_from(events)
                .outerjoin(User, User.id == events.user_id)
                .where(window, events.user_id.is_not(None))
                .group_by(events.user_id)
            )
        ).all()
        top_addresses = conn.execute(
            _top(
                select(events.client, events.client, tally)
                .where(window, events.client.is_not(None))
                .group_by(events.client)
            )
        ).all()
        recent = conn.execute(
            select(
                events.occurred_at,
                events.code,
                events.count,
                func.coalesce(Tenant.slug, events.tenant_label),
                events.user_id,
                events.client,
                events.request_id,
                events.path,
            )
            .outerjoin(Tenant, Tenant.id == events.actor_tenant_id)
            .where(window)
            .order_by(desc(events.id))
            .limit(RECENT)
        ).all()
    return SecuritySummary(
        since=since,
        until=until,
        bucket_seconds=int(step.total_seconds()),
        requests=_bucketed([(b, t, int(r)) for b, t, r, _ in traffic], since, step),
        errors=_bucketed([(b, t, int(e)) for b, t, _, e in traffic if e], since, step),
        security_events=_bucketed([(b, t, int(n)) for b, t, n in security], since, step),
        by_code={str(k): int(v) for k, v in by_code.items()},
        top_tenants=[
            Offender(key=str(k), label=str(lbl), count=int(n)) for k, lbl, n in top_tenants
        ],
        top_users=[Offender(key=str(k), label=str(lbl), count=int(n)) for k, lbl, n in top_users],
        top_addresses=[
            Offender(key=str(k), label=str(k), count=int(n)) for k, _, n in top_addresses
        ],
        recent=[
            RecentEvent(
                occurred_at=r[0],
                code=r[1],
                count=r[2],
                tenant=r[3],
                user_id=r[4],
                client=r[5],
                request_id=r[6],
                path=r[7],
            )
            for r in recent
        ],
    )


def _top(stmt: Any) -> Any:
    """Most frequent first (typed loosely: ``Select``'s row types differ per query)."""
    return stmt.order_by(desc(func.sum(OpsSecurityEvent.count))).limit(TOP)

"""Load tenants of skewed sizes, set-based, as the migrator (BYPASSRLS).

Sizes follow Zipf's law (weight ``1/rank**s``): with 1,000 tenants and s = 1 the largest
tenant holds ~13% of the rows, the top ten ~39%, and the smallest a few dozen rows —
a few large tenants and a long tail of small ones, which is what makes a tenant-led
index and the planner's estimates matter.

Rows are inserted in random order so tenants are interleaved on disk as they are in a
real table (rows arrive from every tenant at once); loading tenant by tenant would give
the index perfect correlation and flatter every number.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection, create_engine, text

from tenantry.db.bootstrap import DatabaseUrls

# How the row budget is split over the main tables.
SHARES = {"service_requests": 0.40, "bookings": 0.35, "invoices": 0.25}

WORDS = (
    "boiler", "roof", "gutter", "window", "door", "fence", "garden", "drain", "heater",
    "floor", "ceiling", "stairs", "garage", "kitchen", "bathroom", "chimney", "porch",
    "shed", "pool", "deck", "attic", "basement", "lawn", "hedge", "driveway",
)  # fmt: skip
VERBS = ("Fix", "Inspect", "Replace", "Clean", "Paint", "Repair", "Check", "Install")
SEARCH_TERM = "%boiler%"  # one word in 25, in one of two slots: ~8% of titles


@dataclass
class TenantSample:
    """One tenant the workload runs against, with ids to look up and write with."""

    id: uuid.UUID
    rank: int  # 1 = largest
    rows: dict[str, int]
    booking_ids: list[uuid.UUID] = field(default_factory=list)
    client_id: uuid.UUID | None = None
    service_id: uuid.UUID | None = None
    rare_term: str = "%-%"  # an ILIKE pattern matching ~one of the tenant's requests


@dataclass
class Dataset:
    tenants: int
    rows: dict[str, int]  # actual row count per table
    large: list[TenantSample]
    small: list[TenantSample]
    load_seconds: float


def zipf_sizes(total: int, tenants: int, s: float) -> list[int]:
    weights = [1.0 / (rank**s) for rank in range(1, tenants + 1)]
    scale = total / sum(weights)
    return [max(1, round(w * scale)) for w in weights]


def _plan_rows(rows: int, tenants: int, s: float) -> list[dict[str, int]]:
    per_table = {t: zipf_sizes(round(rows * share), tenants, s) for t, share in SHARES.items()}
    plan = []
    for i in range(tenants):
        requests = per_table["service_requests"][i]
        plan.append(
            {
                "idx": i + 1,
                "n_requests": requests,
                "n_bookings": per_table["bookings"][i],
                "n_invoices": per_table["invoices"][i],
                "n_members": min(200, max(3, requests // 300)),
                "n_services": min(40, max(2, requests // 2000)),
            }
        )
    return plan


def _sql_array(items: tuple[str, ...]) -> str:
    return "array[" + ", ".join(f"'{w}'" for w in items) + "]"


def _pick(items: tuple[str, ...]) -> str:
    """A random element per row (``random()`` is volatile, so evaluated per row)."""
    return f"({_sql_array(items)})[1 + floor(random() * {len(items)})::int]"


LOAD_STEPS: list[tuple[str, str]] = [
    (
        "tenants",
        """insert into tenants (id, slug, name)
           select tenant_id, 'bench-' || idx, 'Bench tenant ' || idx from bench_plan""",
    ),
    (
        "members",
        """create temp table bench_members as
           select p.idx, k, gen_random_uuid() as user_id
           from bench_plan p, generate_series(0, p.n_members - 1) k""",
    ),
    ("members index", "create index on bench_members (idx, k)"),
    (
        "users",
        """insert into users (id, email, password_hash)
           select user_id, 'u' || idx || '-' || k || '@bench.test', 'not-a-hash'
           from bench_members""",
    ),
    (
        "tenant_memberships",
        """insert into tenant_memberships (tenant_id, user_id, role)
           select p.tenant_id, m.user_id,
                  case when m.k = 0 then 'owner' when m.k < 3 then 'staff' else 'client' end
           from bench_members m join bench_plan p using (idx)""",
    ),
    (
        "services (plan)",
        """create temp table bench_services as
           select p.idx, k, gen_random_uuid() as id
           from bench_plan p, generate_series(0, p.n_services - 1) k""",
    ),
    ("services index", "create index on bench_services (idx, k)"),
    (
        "services",
        """insert into services (tenant_id, id, slug, name, price_cents, duration_minutes)
           select p.tenant_id, s.id, 'service-' || s.k, 'Service ' || s.k,
                  5000 + 100 * s.k, 30 + 15 * (s.k % 6)
           from bench_services s join bench_plan p using (idx)""",
    ),
    (
        "service_requests",
        f"""insert into service_requests
             (tenant_id, id, client_id, service_id, title, description, status, priority,
              created_at, updated_at)
           select r.*, r.created_at from (
             select p.tenant_id, gen_random_uuid() as id, m.user_id as client_id,
                    s.id as service_id,
                    {_pick(VERBS)} || ' the ' || {_pick(WORDS)} || ' near the '
                      || {_pick(WORDS)} as title,
                    'Customer reports a problem; reference ' || md5(g::text || p.idx)
                      as description,
                    {
            _pick(("submitted", "triaged", "assigned", "in_progress", "completed", "cancelled"))
        } as status,
                    {_pick(("low", "normal", "normal", "high", "urgent"))} as priority,
                    now() - random() * interval '730 days' as created_at
             from bench_plan p
             cross join lateral generate_series(1, p.n_requests) g
             join bench_members m on m.idx = p.idx and m.k = g % p.n_members
             join bench_services s on s.idx = p.idx and s.k = g % p.n_services
           ) r order by random()""",
    ),
    (
        "bookings",
        f"""insert into bookings
             (tenant_id, id, client_id, service_id, starts_at, ends_at, status, notes)
           select b.tenant_id, b.id, b.client_id, b.service_id, b.starts_at,
                  b.starts_at + interval '1 hour', b.status, ''
           from (
             select p.tenant_id, gen_random_uuid() as id, m.user_id as client_id,
                    s.id as service_id,
                    now() - random() * interval '730 days' + interval '60 days' as starts_at,
                    {_pick(("pending", "confirmed", "confirmed", "completed", "cancelled"))}
                      as status
             from bench_plan p
             cross join lateral generate_series(1, p.n_bookings) g
             join bench_members m on m.idx = p.idx and m.k = (g * 7) % p.n_members
             join bench_services s on s.idx = p.idx and s.k = (g * 3) % p.n_services
           ) b order by random()""",
    ),
    (
        "invoices",
        f"""insert into invoices
             (tenant_id, id, client_id, number, status, total_cents, issued_at, paid_at,
              created_at, updated_at)
           select i.tenant_id, i.id, i.client_id, i.number, i.status, i.total,
                  i.created_at, case when i.status = 'paid' then i.created_at end,
                  i.created_at, i.created_at
           from (
             select p.tenant_id, gen_random_uuid() as id, m.user_id as client_id,
                    'INV-' || lpad(g::text, 7, '0') as number,
                    {_pick(("draft", "sent", "paid", "paid", "void"))} as status,
                    (random() * 100000)::bigint as total,
                    now() - random() * interval '730 days' as created_at
             from bench_plan p
             cross join lateral generate_series(1, p.n_invoices) g
             join bench_members m on m.idx = p.idx and m.k = (g * 11) % p.n_members
           ) i order by random()""",
    ),
]


def load(
    urls: DatabaseUrls,
    *,
    rows: int,
    tenants: int,
    zipf_s: float,
    large: int,
    small: int,
    lookups: int,
    seed: int = 42,
    log: bool = True,
) -> Dataset:
    """Create ``tenants`` tenants holding ~``rows`` rows in the main tables; pick samples."""
    started = time.perf_counter()
    engine = create_engine(urls.migrator)
    try:
        with engine.begin() as conn:
            conn.execute(text("set local synchronous_commit = off"))
            conn.execute(text("select setseed(:s)"), {"s": (seed % 1000) / 1000})
            conn.execute(
                text(
                    "create temp table bench_plan (idx int primary key,"
                    " tenant_id uuid not null default gen_random_uuid(),"
                    " n_requests int, n_bookings int, n_invoices int,"
                    " n_members int, n_services int) on commit drop"
                )
            )
            conn.execute(
                text(
                    "insert into bench_plan (idx, n_requests, n_bookings, n_invoices,"
                    " n_members, n_services) values (:idx, :n_requests, :n_bookings,"
                    " :n_invoices, :n_members, :n_services)"
                ),
                _plan_rows(rows, tenants, zipf_s),
            )
            for label, sql in LOAD_STEPS:
                t0 = time.perf_counter()
                result = conn.execute(text(sql))
                if log:
                    count = f"{result.rowcount:>9,} rows" if result.rowcount >= 0 else ""
                    print(f"  load {label:<20} {count}  {time.perf_counter() - t0:6.1f}s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            t0 = time.perf_counter()
            # VACUUM sets the visibility map (index-only scans), ANALYZE the statistics.
            conn.execute(text("vacuum (analyze)"))
            if log:
                print(f"  vacuum analyze{'':<27}{time.perf_counter() - t0:6.1f}s")
        with engine.connect() as conn:
            dataset = _sample(conn, tenants, large=large, small=small, lookups=lookups)
    finally:
        engine.dispose()
    dataset.load_seconds = time.perf_counter() - started
    return dataset


def _sample(conn: Connection, tenants: int, *, large: int, small: int, lookups: int) -> Dataset:
    counts = {
        t: conn.execute(text(f"select count(*) from {t}")).scalar_one()
        for t in ("tenants", "users", "tenant_memberships", "services", *SHARES)
    }
    sizes = {
        row.tenant_id: row
        for row in conn.execute(
            text(
                "select t.id as tenant_id, substr(t.slug, 7)::int as rank,"
                " (select count(*) from service_requests r where r.tenant_id = t.id) as r,"
                " (select count(*) from bookings b where b.tenant_id = t.id) as b,"
                " (select count(*) from invoices i where i.tenant_id = t.id) as i"
                " from tenants t where t.slug like 'bench-%'"
            )
        )
    }
    by_rank = sorted(sizes.values(), key=lambda r: r.rank)
    # Small tenants: spread evenly over the bottom half of the ranking.
    tail = by_rank[len(by_rank) // 2 :]
    step = max(1, len(tail) // max(1, small))
    picks = [(by_rank[:large], "large"), (tail[::step][:small], "small")]
    samples: dict[str, list[TenantSample]] = {"large": [], "small": []}
    for rows, kind in picks:
        for row in rows:
            sample = TenantSample(
                id=row.tenant_id,
                rank=row.rank,
                rows={"service_requests": row.r, "bookings": row.b, "invoices": row.i},
            )
            sample.booking_ids = list(
                conn.execute(
                    text("select id from bookings where tenant_id = :t order by random() limit :n"),
                    {"t": sample.id, "n": lookups},
                ).scalars()
            )
            sample.client_id = conn.execute(
                text("select user_id from tenant_memberships where tenant_id = :t limit 1"),
                {"t": sample.id},
            ).scalar_one()
            fragment = conn.execute(
                text(
                    "select substr(description, 40, 8) from service_requests"
                    " where tenant_id = :t limit 1"
                ),
                {"t": sample.id},
            ).scalar_one()
            sample.rare_term = f"%{fragment}%"
            sample.service_id = conn.execute(
                text("select id from services where tenant_id = :t limit 1"), {"t": sample.id}
            ).scalar_one()
            samples[kind].append(sample)
    return Dataset(
        tenants=tenants,
        rows=counts,
        large=samples["large"],
        small=samples["small"],
        load_seconds=0.0,
    )

"""``tenantry legacy init-demo --rows N``: a realistic database in the legacy shape.

The schema is what ``tenantry migrate`` creates, loosened (``loosen``); the rows are
related the way a real service business's are (requests of a tenant's clients for its
services, bookings of those requests, work orders, invoices and their lines ...), and
legacy as they are written (so rows without a tenant lie among the others on disk, as in
a real table, not in a rewritten tail):

* ~40% of the rows of every business table lose their ``tenant_id`` — derivable, some
  through one relation, some only through two (a work order whose booking lost its
  tenant too); ``chat_messages`` has no ``tenant_id`` column at all;
* half of the clients carry a legacy ``users.tenant_id``, a few of them with no
  membership yet; consultants belong to two tenants (they decide nothing alone);
* true orphans: expenses and chat messages of users who belong to no tenant, contact
  submissions and idempotency keys with no tenant;
* conflicts: service requests whose client is in one tenant and service in another.

Everything is a pure function of ``--rows`` (ids are md5 of a name, choices are hashes),
so two databases built with the same N are identical — the tests rely on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from tenantry.db.bootstrap import DatabaseUrls, ensure_database
from tenantry.db.migrate import upgrade
from tenantry.legacy import loosen
from tenantry.legacy.catalogue import read_snapshot
from tenantry.legacy.connect import connect
from tenantry.legacy.context import LegacyError

# Share of the business rows per table (adds up to ~1).
SHARES = {
    "service_requests": 0.16,
    "bookings": 0.20,
    "work_orders": 0.10,
    "invoices": 0.10,
    "invoice_lines": 0.14,
    "expenses": 0.05,
    "attachments": 0.05,
    "scheduled_reminders": 0.08,
    "chat_messages": 0.08,
    "posts": 0.01,
    "contact_submissions": 0.01,
    "idempotency_keys": 0.005,
    "payment_events": 0.01,
}
NULL_PERCENT = 40


@dataclass(frozen=True)
class Sizes:
    rows: int

    @property
    def tenants(self) -> int:
        return max(3, min(200, self.rows // 25_000))

    @property
    def clients(self) -> int:  # per tenant
        return max(4, self.rows // self.tenants // 60)

    @property
    def services(self) -> int:  # per tenant
        return max(3, min(200, self.rows // self.tenants // 500))

    def of(self, table: str) -> int:
        # a whole number of rows per tenant, so row g belongs to tenant g % K
        k = self.tenants
        return max(k, round(self.rows * SHARES[table] / k) * k)

    @property
    def ghosts(self) -> int:
        return max(2, self.rows // 2000)

    @property
    def consultants(self) -> int:
        return max(1, self.tenants // 2)


_FUNCTIONS = """
CREATE FUNCTION pg_temp.h(text) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT ('x' || substr(md5($1), 1, 12))::bit(48)::bigint $$;
CREATE FUNCTION pg_temp.u(text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$ SELECT md5($1)::uuid $$;
"""


def _statements(s: Sizes) -> list[tuple[str, str]]:
    K, C, S = s.tenants, s.clients, s.services
    t = f"pg_temp.u('tenant:' || (g % {K}))"
    sr, bk, inv, exp = (s.of(x) for x in ("service_requests", "bookings", "invoices", "expenses"))

    def same_tenant(prefix: str, count: int, salt: str) -> str:
        """A row of ``prefix`` (count rows) in the same tenant as row g."""
        return (
            f"pg_temp.u('{prefix}:' || ((pg_temp.h('{salt}' || g) % ({count} / {K})) "
            f"* {K} + g % {K}))"
        )

    def tenant_of(table: str) -> str:
        """Row g's tenant, or NULL where the legacy database lost it (``_LOST``)."""
        lost = _LOST.get(table)
        if lost is None:
            return t
        salt, percent, extra = lost
        row_id = f"pg_temp.u('{table}:' || g)::text"
        return (
            f"CASE WHEN pg_temp.h('{salt}' || {row_id}) % 100 < {percent}{extra} "
            f"THEN NULL ELSE {t} END"
        )

    client = f"pg_temp.u('client:' || (g % {K}) || ':' || (pg_temp.h('c' || g) % {C}))"
    staff = f"pg_temp.u('staff:' || (g % {K}) || ':' || (pg_temp.h('st' || g) % 2))"
    service = f"pg_temp.u('service:' || (g % {K}) || ':' || (pg_temp.h('s' || g) % {S}))"
    when = "timestamptz '2026-01-05 09:00+00' + (pg_temp.h('w' || g) % 8760) * interval '1 hour'"
    return [
        (
            "tenants",
            f"""INSERT INTO tenants (id, slug, name, created_at, updated_at)
            SELECT pg_temp.u('tenant:' || g), 'legacy-' || g, 'Legacy tenant ' || g,
                   timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM generate_series(0, {K - 1}) g""",
        ),
        (
            "users",
            f"""INSERT INTO users (id, email, name, password_hash, tenant_id,
                                         created_at, updated_at)
            SELECT pg_temp.u(kind || ':' || tn || ':' || n),
                   kind || '-' || tn || '-' || n || '@legacy.test', kind || ' ' || n, '!',
                   CASE WHEN kind = 'client' AND n % 2 = 0 THEN pg_temp.u('tenant:' || tn) END,
                   timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM generate_series(0, {K - 1}) tn,
                 LATERAL (VALUES ('owner', 1), ('staff', 2), ('client', {C})) v(kind, cnt),
                 LATERAL generate_series(0, cnt - 1) n""",
        ),
        (
            "users",
            f"""INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
            SELECT pg_temp.u(kind || ':' || g), kind || '-' || g || '@legacy.test',
                   kind || ' ' || g, '!', timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM (VALUES ('ghost', {s.ghosts}), ('consultant', {s.consultants})) v(kind, cnt),
                 LATERAL generate_series(0, cnt - 1) g""",
        ),
        # every owner and staff, and clients except every 25th one that only has a
        # legacy users.tenant_id (the backfill makes their membership)
        (
            "tenant_memberships",
            f"""INSERT INTO tenant_memberships (tenant_id, user_id, role,
                                                                  created_at, updated_at)
            SELECT pg_temp.u('tenant:' || tn), pg_temp.u(kind || ':' || tn || ':' || n), kind,
                   timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM generate_series(0, {K - 1}) tn,
                 LATERAL (VALUES ('owner', 1), ('staff', 2), ('client', {C})) v(kind, cnt),
                 LATERAL generate_series(0, cnt - 1) n
            WHERE NOT (kind = 'client' AND n % 50 = 0)
            UNION ALL
            SELECT pg_temp.u('tenant:' || ((g + d) % {K})), pg_temp.u('consultant:' || g), 'staff',
                   timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM generate_series(0, {s.consultants - 1}) g, generate_series(0, 1) d""",
        ),
        (
            "services",
            f"""INSERT INTO services (tenant_id, id, slug, name, price_cents,
                                               duration_minutes, created_at, updated_at)
            SELECT pg_temp.u('tenant:' || tn), pg_temp.u('service:' || tn || ':' || n),
                   'svc-' || tn || '-' || n, 'Service ' || n, 1000 + n * 250, 30 + (n % 4) * 30,
                   timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM generate_series(0, {K - 1}) tn, generate_series(0, {S - 1}) n""",
        ),
        # 1 in 200 requests names a service of the next tenant: a conflict once NULL
        (
            "service_requests",
            f"""INSERT INTO service_requests (tenant_id, id, client_id,
                assignee_id, service_id, title, status, created_at, updated_at)
            SELECT {tenant_of("service_requests")},
                   pg_temp.u('service_requests:' || g), {client},
                   CASE WHEN g % 3 = 0 THEN {staff} END,
                   CASE WHEN g % 200 = 7
                        THEN pg_temp.u('service:' || ((g + 1) % {K}) || ':0') ELSE {service} END,
                   'Request ' || g, 'submitted', {when}, {when}
            FROM generate_series(0, {sr - 1}) g""",
        ),
        (
            "bookings",
            f"""INSERT INTO bookings (tenant_id, id, client_id, assignee_id, service_id,
                service_request_id, starts_at, ends_at, status, created_at, updated_at)
            SELECT {tenant_of("bookings")},
                   pg_temp.u('bookings:' || g), {client}, {staff}, {service},
                   CASE WHEN g % 10 < 7 THEN {same_tenant("service_requests", sr, "bsr")} END,
                   {when}, {when} + interval '1 hour', 'confirmed', {when}, {when}
            FROM generate_series(0, {bk - 1}) g""",
        ),
        # work orders: from a request and its booking, the booking alone, or the request alone
        (
            "work_orders",
            f"""INSERT INTO work_orders (tenant_id, id, service_request_id,
                booking_id, assignee_id, title, created_at, updated_at)
            SELECT {tenant_of("work_orders")},
                   pg_temp.u('work_orders:' || g),
                   CASE WHEN g % 3 <> 1 THEN {same_tenant("service_requests", sr, "wsr")} END,
                   CASE WHEN g % 3 <> 2 THEN {same_tenant("bookings", bk, "wbk")} END,
                   CASE WHEN g % 2 = 0 THEN {staff} END,
                   'Work order ' || g, {when}, {when}
            FROM generate_series(0, {s.of("work_orders") - 1}) g""",
        ),
        (
            "invoices",
            f"""INSERT INTO invoices (tenant_id, id, client_id, booking_id, number,
                total_cents, created_at, updated_at)
            SELECT {tenant_of("invoices")},
                   pg_temp.u('invoices:' || g), {client},
                   CASE WHEN g % 5 < 3 THEN {same_tenant("bookings", bk, "ibk")} END,
                   'INV-' || g, 5000, {when}, {when}
            FROM generate_series(0, {inv - 1}) g""",
        ),
        (
            "invoice_lines",
            f"""INSERT INTO invoice_lines (tenant_id, id, invoice_id, position,
                description, quantity, unit_price_cents, amount_cents, created_at, updated_at)
            SELECT {tenant_of("invoice_lines")},
                   pg_temp.u('invoice_lines:' || g), {same_tenant("invoices", inv, "li")},
                   g / {K}, 'Line ' || g, 1, 5000, 5000, {when}, {when}
            FROM generate_series(0, {s.of("invoice_lines") - 1}) g""",
        ),
        (
            "expenses",
            f"""INSERT INTO expenses (tenant_id, id, user_id, amount_cents, category,
                incurred_on, created_at, updated_at)
            SELECT {tenant_of("expenses")},
                   pg_temp.u('expenses:' || g), {staff}, 100 + g % 900, 'supplies',
                   date '2026-01-05' + (g % 300), {when}, {when}
            FROM generate_series(0, {exp - 1}) g""",
        ),
        (
            "attachments",
            f"""INSERT INTO attachments (tenant_id, id, service_request_id, expense_id,
                uploaded_by_id, filename, content_type, size_bytes, storage_key,
                created_at, updated_at)
            SELECT {tenant_of("attachments")},
                   pg_temp.u('attachments:' || g),
                   CASE WHEN g % 10 < 7 THEN {same_tenant("service_requests", sr, "asr")} END,
                   CASE WHEN g % 10 >= 7 THEN {same_tenant("expenses", exp, "aex")} END,
                   {client}, 'file-' || g || '.png', 'image/png', 1024, 'legacy/' || g,
                   {when}, {when}
            FROM generate_series(0, {s.of("attachments") - 1}) g""",
        ),
        (
            "scheduled_reminders",
            f"""INSERT INTO scheduled_reminders (tenant_id, id,
                service_request_id, booking_id, channel, send_at, created_at, updated_at)
            SELECT {tenant_of("scheduled_reminders")},
                   pg_temp.u('scheduled_reminders:' || g),
                   CASE WHEN g % 2 = 0 THEN {same_tenant("service_requests", sr, "rsr")} END,
                   CASE WHEN g % 2 = 1 THEN {same_tenant("bookings", bk, "rbk")} END,
                   'email', {when}, {when}, {when}
            FROM generate_series(0, {s.of("scheduled_reminders") - 1}) g""",
        ),
        (
            "chat_messages",
            f"""INSERT INTO chat_messages (tenant_id, id, service_request_id,
                sender_id, body, created_at)
            SELECT {tenant_of("chat_messages")},
                   pg_temp.u('chat_messages:' || g),
                   CASE WHEN g % 4 <> 3 THEN {same_tenant("service_requests", sr, "csr")} END,
                   {client}, 'Message ' || g, {when}
            FROM generate_series(0, {s.of("chat_messages") - 1}) g""",
        ),
        (
            "posts",
            f"""INSERT INTO posts (tenant_id, id, author_id, slug, title, created_at,
                updated_at)
            SELECT {tenant_of("posts")},
                   pg_temp.u('posts:' || g), pg_temp.u('owner:' || (g % {K}) || ':0'),
                   'post-' || g, 'Post ' || g, {when}, {when}
            FROM generate_series(0, {s.of("posts") - 1}) g""",
        ),
        (
            "contact_submissions",
            f"""INSERT INTO contact_submissions (tenant_id, id, name, email,
                message, created_at)
            SELECT {tenant_of("contact_submissions")},
                   pg_temp.u('contact_submissions:' || g), 'Visitor ' || g,
                   'visitor' || g || '@example.test', 'Hello', {when}
            FROM generate_series(0, {s.of("contact_submissions") - 1}) g""",
        ),
        (
            "idempotency_keys",
            f"""INSERT INTO idempotency_keys (tenant_id, id, key, method, path,
                request_hash, created_at)
            SELECT {tenant_of("idempotency_keys")},
                   pg_temp.u('idempotency_keys:' || g), 'key-' || g, 'POST', '/api/x',
                   md5(g::text), {when}
            FROM generate_series(0, {s.of("idempotency_keys") - 1}) g""",
        ),
        (
            "payment_events",
            f"""INSERT INTO payment_events (tenant_id, id, provider,
                provider_event_id, type, invoice_id, received_at)
            SELECT {tenant_of("payment_events")},
                   pg_temp.u('payment_events:' || g), 'test', 'evt-' || g, 'invoice.paid',
                   CASE WHEN g % 5 <> 0 THEN {same_tenant("invoices", inv, "pin")} END, {when}
            FROM generate_series(0, {s.of("payment_events") - 1}) g""",
        ),
        (
            "role_permissions",
            f"""INSERT INTO role_permissions (tenant_id, id, role, permission, created_at)
            SELECT pg_temp.u('tenant:' || tn), pg_temp.u('rp:' || tn || ':' || p), 'staff', p,
                   timestamptz '2025-01-01'
            FROM generate_series(0, {K - 1}) tn,
                 unnest(array['bookings.read', 'requests.read', 'invoices.read']) p""",
        ),
        *[
            (
                table,
                f"""INSERT INTO {table} (tenant_id, id, created_at, updated_at)
            SELECT pg_temp.u('tenant:' || tn), pg_temp.u('{table}:' || tn),
                   timestamptz '2025-01-01', timestamptz '2025-01-01'
            FROM generate_series(0, {K - 1}) tn""",
            )
            for table in ("booking_settings", "communication_settings", "thresholds")
        ],
        # true orphans: rows of users who belong to no tenant, rows with no relation
        (
            "expenses",
            f"""INSERT INTO expenses (tenant_id, id, user_id, amount_cents, category,
                incurred_on, created_at, updated_at)
            SELECT NULL, pg_temp.u('orphan-expense:' || g),
                   pg_temp.u('ghost:' || (g % {s.ghosts})), 500, 'travel', date '2026-02-01',
                   timestamptz '2026-02-01', timestamptz '2026-02-01'
            FROM generate_series(0, {max(2, exp // 100) - 1}) g""",
        ),
        (
            "chat_messages",
            f"""INSERT INTO chat_messages (tenant_id, id, service_request_id,
                sender_id, body, created_at)
            SELECT NULL, pg_temp.u('orphan-chat:' || g), NULL,
                   pg_temp.u('ghost:' || (g % {s.ghosts})), 'Lost message ' || g,
                   timestamptz '2026-02-01'
            FROM generate_series(0, {max(2, s.of("chat_messages") // 100) - 1}) g""",
        ),
    ]


# Which rows lose their tenant, decided as they are written (so they lie among the
# others on disk, as in a real legacy table): table -> (hash salt, percent, extra
# condition). Every business table loses ~40%; roots keep theirs, except contact
# submissions and idempotency keys (5%), which have nothing to derive from. A request
# that names another tenant's service (1 in 200) lost it too: a conflict.
_LOST: dict[str, tuple[str, int, str]] = {
    **{
        table: (table, NULL_PERCENT, "")
        for table in (
            "bookings",
            "work_orders",
            "invoices",
            "invoice_lines",
            "expenses",
            "attachments",
            "scheduled_reminders",
            "posts",
            "payment_events",
        )
    },
    "service_requests": ("service_requests", NULL_PERCENT, " OR g % 200 = 7"),
    "contact_submissions": ("contact", 5, ""),
    "idempotency_keys": ("idem", 5, ""),
}


def _legacy_statements() -> list[tuple[str, str]]:
    return [("chat_messages", "ALTER TABLE chat_messages DROP COLUMN tenant_id")]


def init_demo(
    urls: DatabaseUrls, rows: int, *, note: Callable[[str], None] = lambda text: None
) -> Sizes:
    if rows < 100:
        raise LegacyError("--rows must be at least 100")
    ensure_database(urls)
    with connect(urls.migrator) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
        ).fetchone()
        if tables and tables[0]:
            raise LegacyError(
                f"database {urls.database} already has tables; init-demo builds a new legacy "
                "database — name another one with --database (or TENANTRY_DATABASE_NAME)"
            )
    note("creating Tenantry's tables (tenantry migrate) ...")
    upgrade(urls)
    sizes = Sizes(rows)
    with connect(urls.migrator) as conn:
        snap = read_snapshot(conn)
        note("loosening them into the legacy shape ...")
        loosen.loosen_keys(conn, snap)
        conn.execute(_FUNCTIONS.encode())
        for table, sql in _statements(sizes):
            note(f"filling {table} ...")
            conn.execute(sql.encode())
        conn.commit()
        note("making it legacy: chat messages lose their tenant column ...")
        for _table, sql in _legacy_statements():
            conn.execute(sql.encode())
        loosen.global_uniques(conn, snap)
        note("adding the legacy single-column foreign keys ...")
        loosen.add_legacy_foreign_keys(conn, snap)
        conn.commit()
    with connect(urls.migrator, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return sizes


def count_rows(conn: psycopg.Connection[Any]) -> dict[str, int]:
    snap = read_snapshot(conn)
    counts = {}
    for table in sorted(snap.tables):
        row = conn.execute(f'SELECT count(*) FROM public."{table}"'.encode()).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts

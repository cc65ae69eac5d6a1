"""Legacy-toolkit fixtures: a fresh database per test on the test server, and the
test's OWN derivation of every row's tenant (written from the seed's backfill notes,
independently of tenantry.legacy's SQL), to compare the toolkit's result with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text

from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.legacy.connect import connect
from tenantry.settings import Settings

# The seed's COALESCE chains in Tenantry's columns ("user" = a user's tenant), asked in
# order; EXTRA are relations that must agree but are not asked.
CHAINS: dict[str, list[tuple[str, str]]] = {
    "service_requests": [("client_id", "user"), ("service_id", "services")],
    "bookings": [
        ("client_id", "user"),
        ("service_request_id", "service_requests"),
        ("service_id", "services"),
    ],
    "work_orders": [
        ("service_request_id", "service_requests"),
        ("booking_id", "bookings"),
        ("assignee_id", "user"),
    ],
    "invoices": [("booking_id", "bookings"), ("client_id", "user")],
    "invoice_lines": [("invoice_id", "invoices")],
    "expenses": [("user_id", "user")],
    "attachments": [
        ("service_request_id", "service_requests"),
        ("expense_id", "expenses"),
        ("uploaded_by_id", "user"),
    ],
    "scheduled_reminders": [
        ("service_request_id", "service_requests"),
        ("booking_id", "bookings"),
    ],
    "chat_messages": [("service_request_id", "service_requests"), ("sender_id", "user")],
    "posts": [("author_id", "user")],
    "payment_events": [("invoice_id", "invoices")],
}
EXTRA: dict[str, list[tuple[str, str]]] = {
    "service_requests": [("assignee_id", "user")],
    "bookings": [("assignee_id", "user")],
}
# Tables with nothing to derive a tenant from (legacy.rules.DERIVATIONS: ()).
ROOTS = (
    "services",
    "contact_submissions",
    "idempotency_keys",
    "role_permissions",
    "booking_settings",
    "communication_settings",
    "thresholds",
    "held_jobs",
    "invitations",
)
ORDER = (
    "services",
    "service_requests",
    "bookings",
    "work_orders",
    "invoices",
    "invoice_lines",
    "expenses",
    "attachments",
    "scheduled_reminders",
    "chat_messages",
    "posts",
    "payment_events",
    "contact_submissions",
    "idempotency_keys",
    "role_permissions",
    "booking_settings",
    "communication_settings",
    "thresholds",
)


def has_column(conn: psycopg.Connection[Any], table: str, column: str) -> bool:
    return (
        conn.execute(
            "select 1 from information_schema.columns where table_schema = 'public' "
            "and table_name = %s and column_name = %s",
            (table, column),
        ).fetchone()
        is not None
    )


def expected_tenants(conn: psycopg.Connection[Any]) -> dict[str, dict[uuid.UUID, Any]]:
    """table -> row id -> the tenant the seed's rules give it (None: orphan or conflict)."""
    memberships: dict[uuid.UUID, set[uuid.UUID]] = {}
    for user_id, tenant_id in conn.execute("select user_id, tenant_id from tenant_memberships"):
        memberships.setdefault(user_id, set()).add(tenant_id)
    legacy: dict[uuid.UUID, uuid.UUID] = {}
    if has_column(conn, "users", "tenant_id"):
        legacy = dict(conn.execute("select id, tenant_id from users where tenant_id is not null"))
    users: dict[uuid.UUID, set[uuid.UUID]] = {}
    decisive: dict[uuid.UUID, uuid.UUID | None] = {}
    for user_id in set(memberships) | set(legacy):
        member_of = memberships.get(user_id, set())
        users[user_id] = member_of | ({legacy[user_id]} if user_id in legacy else set())
        only = next(iter(member_of)) if len(member_of) == 1 else None
        decisive[user_id] = legacy.get(user_id) or only
    result: dict[str, dict[uuid.UUID, Any]] = {}
    for table in ORDER:
        chain, extra = CHAINS.get(table, []), EXTRA.get(table, [])
        cols = [c for c, _ in chain + extra]
        tenant = "tenant_id" if has_column(conn, table, "tenant_id") else "NULL::uuid"
        rows = conn.execute(
            f"select id, {tenant}{''.join(', ' + c for c in cols)} from {table}"
        ).fetchall()
        out: dict[uuid.UUID, Any] = {}
        for row in rows:
            row_id, current, links = row[0], row[1], dict(zip(cols, row[2:], strict=True))
            if current is not None:
                out[row_id] = current
                continue

            def answer(column: str, kind: str) -> Any:
                link = links[column]
                if link is None:
                    return None
                if kind == "user":
                    return decisive.get(link)
                return result[kind].get(link)

            derived = next((a for c, k in chain if (a := answer(c, k)) is not None), None)
            ok = derived is not None
            for column, kind in chain + extra:
                link = links[column]
                if link is None or not ok:
                    continue
                if kind == "user":
                    ok = derived in users.get(link, set())
                else:
                    ok = result[kind].get(link) == derived
            out[row_id] = derived if ok else None
        result[table] = out
    return result


@pytest.fixture
def new_database(
    settings: Settings, database_urls: DatabaseUrls
) -> Iterator[Callable[[], DatabaseUrls]]:
    """Make fresh, empty databases (with their own two roles) on the test server."""
    made: list[DatabaseUrls] = []

    def make() -> DatabaseUrls:
        name = "lg_" + uuid.uuid4().hex[:12]
        urls = resolve_urls(
            settings.model_copy(update={"database_name": name}), database_urls.admin
        )
        ensure_database(urls)
        tune = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
        with tune.connect() as c:
            c.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
        tune.dispose()
        made.append(urls)
        return urls

    yield make
    engine = create_engine(database_urls.admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for urls in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{urls.database}" WITH (FORCE)'))
            for role in urls.roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    engine.dispose()


def state_of(urls: DatabaseUrls) -> dict[str, Any]:
    """Every public table's content, the quarantine, the problems and the account."""
    with connect(urls.migrator) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'public' order by 1"
            )
        ]
        out: dict[str, Any] = {}
        for table in tables:
            out[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
                f'from public."{table}" t'
            ).fetchone()
        out["~quarantine"] = conn.execute(
            "select table_name, row_id, kind, reason, had_tenant, row_data::text "
            "from tenantry_legacy.quarantine order by 1, 2"
        ).fetchall()
        out["~problems"] = conn.execute(
            "select table_name, row_id, kind, reason from tenantry_legacy.problems order by 1, 2"
        ).fetchall()
        out["~account"] = conn.execute(
            "select table_name, null_at_start, backfilled, assigned, quarantined, "
            "moved_with_parent, memberships_created, done from tenantry_legacy.checkpoints "
            "order by 1"
        ).fetchall()
    return out

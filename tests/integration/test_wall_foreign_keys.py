"""The schema alone: composite keys with both the guard and RLS switched off.

Every statement runs as the cluster's superuser (RLS does not apply to it) through raw
SQL (the guard never sees it). Whatever the app and its policies do, a row of tenant A
still cannot point at a service, request, booking, invoice, expense or member of
tenant B, because every such reference is ``(tenant_id, x_id) -> x(tenant_id, id)``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Engine, ForeignKeyConstraint, create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateTable

from tenantry.areas import tenant_owned_tables
from tenantry.db.base import Base
from tenantry.db.bootstrap import DatabaseUrls
from tenantry.db.engine import Database
from tests.factories import TenantFixture, make_tenant
from tests.integration.test_wall_rls import seed_every_table

TENANT_TABLES = tenant_owned_tables()


def _composite_references() -> list[tuple[str, str, str, str]]:
    """(table, constraint, column, parent) for every reference between tenant tables."""
    refs = []
    for name in TENANT_TABLES:
        for fk in Base.metadata.tables[name].constraints:
            if not isinstance(fk, ForeignKeyConstraint):
                continue
            if fk.referred_table.name not in TENANT_TABLES:  # tenants, users: global
                continue
            columns = [c.name for c in fk.columns]
            assert columns[0] == "tenant_id", f"{fk.name} does not start with tenant_id"
            refs.append((name, str(fk.name), columns[1], fk.referred_table.name))
    return sorted(refs)


REFERENCES = _composite_references()


@pytest.fixture(scope="module")
def admin(database_urls: DatabaseUrls) -> Iterator[Engine]:
    engine = create_engine(database_urls.admin.set(database=database_urls.database))
    yield engine
    engine.dispose()


@pytest.fixture
def sql(admin: Engine) -> Iterator[Connection]:
    """A superuser connection: no RLS, no guard. Rolled back after each test."""
    with admin.connect() as conn:
        yield conn
        conn.rollback()


@pytest.fixture(scope="module")
def a(db: Database) -> tuple[TenantFixture, dict[str, uuid.UUID]]:
    tenant = make_tenant(db)
    return tenant, seed_every_table(db, tenant)


@pytest.fixture(scope="module")
def b(db: Database) -> tuple[TenantFixture, dict[str, uuid.UUID]]:
    tenant = make_tenant(db)
    return tenant, seed_every_table(db, tenant)


def test_the_connection_really_has_both_walls_off(sql, a, b):
    assert sql.execute(text("select rolsuper from pg_roles where rolname = current_user")).scalar()
    tenants = set(sql.execute(text("select tenant_id from services")).scalars())
    assert {a[0].id, b[0].id} <= tenants


def test_every_reference_between_tenant_tables_is_composite():
    assert len(REFERENCES) >= 23
    parents = {parent for *_, parent in REFERENCES}
    assert parents == {
        "services", "service_requests", "bookings", "expenses", "invoices", "tenant_memberships",
    }  # fmt: skip


@pytest.mark.parametrize(("table", "constraint", "column", "parent"), REFERENCES,
                         ids=[r[1] for r in REFERENCES])  # fmt: skip
def test_a_row_of_tenant_a_cannot_point_into_tenant_b(sql, a, b, table, constraint, column, parent):
    (ta, rows_a), (_, rows_b) = a, b
    # An attachment has at most one parent (a CHECK), so moving it clears the other.
    clear = {"expense_id": "service_request_id", "service_request_id": "expense_id"}
    also = f', "{clear[column]}" = null' if table == "attachments" and column in clear else ""
    statement = text(
        f'update "{table}" set "{column}" = :target{also} where tenant_id = :t and id = :id'
    )
    own = {"t": ta.id, "id": rows_a[table]}
    # Control: the same row may point at its own tenant's parent.
    sql.execute(statement, {**own, "target": rows_a[parent]})
    with pytest.raises(IntegrityError, match=constraint):
        sql.execute(statement, {**own, "target": rows_b[parent]})


def _booking(sql: Connection, tenant: uuid.UUID, client: uuid.UUID, service: uuid.UUID) -> None:
    start = datetime.now(UTC) + timedelta(days=3)
    sql.execute(
        text("insert into bookings (tenant_id, client_id, service_id, starts_at, ends_at)"
             " values (:t, :c, :s, :start, :end)"),
        {"t": tenant, "c": client, "s": service, "start": start,
         "end": start + timedelta(hours=1)},
    )  # fmt: skip


def test_a_booking_cannot_use_another_tenants_service(sql, a, b):
    (ta, rows_a), (_, rows_b) = a, b
    client = ta["client"].user_id
    _booking(sql, ta.id, client, rows_a["services"])  # control
    with pytest.raises(IntegrityError, match="fk_bookings_service_id"):
        _booking(sql, ta.id, client, rows_b["services"])


def test_a_booking_cannot_be_for_another_tenants_member(sql, a, b):
    (ta, rows_a), (tb, _) = a, b
    with pytest.raises(IntegrityError, match="fk_bookings_client_id"):
        _booking(sql, ta.id, tb["client"].user_id, rows_a["services"])


def test_an_invoice_cannot_bill_another_tenants_booking(sql, a, b):
    (ta, _), (_, rows_b) = a, b
    with pytest.raises(IntegrityError, match="fk_invoices_booking_id"):
        sql.execute(
            text("insert into invoices (tenant_id, client_id, booking_id, number)"
                 " values (:t, :c, :bk, 'INV-X')"),
            {"t": ta.id, "c": ta["client"].user_id, "bk": rows_b["bookings"]},
        )  # fmt: skip


def test_an_invoice_line_cannot_join_another_tenants_invoice(sql, a, b):
    (ta, _), (_, rows_b) = a, b
    with pytest.raises(IntegrityError, match="fk_invoice_lines_invoice_id"):
        sql.execute(
            text("insert into invoice_lines (tenant_id, invoice_id, description, quantity,"
                 " unit_price_cents, amount_cents) values (:t, :i, 'x', 1, 1, 1)"),
            {"t": ta.id, "i": rows_b["invoices"]},
        )  # fmt: skip


def test_a_payment_event_cannot_settle_another_tenants_invoice(sql, a, b):
    (ta, _), (_, rows_b) = a, b
    with pytest.raises(IntegrityError, match="fk_payment_events_invoice_id"):
        sql.execute(
            text("insert into payment_events (tenant_id, provider, provider_event_id, type,"
                 " invoice_id) values (:t, 'stripe', 'evt_x', 'invoice.paid', :i)"),
            {"t": ta.id, "i": rows_b["invoices"]},
        )  # fmt: skip


def test_a_null_optional_reference_is_allowed(sql, a):
    ta, rows_a = a
    sql.execute(
        text("update bookings set service_request_id = null, assignee_id = null"
             " where tenant_id = :t and id = :id"),
        {"t": ta.id, "id": rows_a["bookings"]},
    )  # fmt: skip


def test_a_linked_parent_cannot_be_deleted_and_tenant_id_never_changes(sql, a):
    """The links from bookings, work orders and invoices are plain keys (Citus refuses
    ON DELETE SET NULL on a tenant-led key, migration 20261130_0011): deleting a request
    that a booking still points to is refused; unlinked first, it goes, taking its
    attachments and chat with it, and the booking keeps its tenant."""
    ta, rows_a = a
    delete = text("delete from service_requests where tenant_id = :t and id = :id")
    params = {"t": ta.id, "id": rows_a["service_requests"]}
    savepoint = sql.begin_nested()
    with pytest.raises(IntegrityError):
        sql.execute(delete, params)
    savepoint.rollback()
    for table in ("bookings", "work_orders"):
        sql.execute(
            text(f"update {table} set service_request_id = null"
                 " where tenant_id = :t and service_request_id = :id"),
            params,
        )  # fmt: skip
    sql.execute(delete, params)
    booking = sql.execute(
        text("select tenant_id, service_request_id from bookings where id = :id"),
        {"id": rows_a["bookings"]},
    ).one()
    assert tuple(booking) == (ta.id, None)
    # Attachments and chat of the request went with it (ON DELETE CASCADE).
    gone = sql.execute(
        text("select (select count(*) from attachments where id = :at)"
             " + (select count(*) from chat_messages where id = :ch)"),
        {"at": rows_a["attachments"], "ch": rows_a["chat_messages"]},
    ).scalar()  # fmt: skip
    assert gone == 0


# ----------------------------------------------------------------------- per-tenant keys


@pytest.mark.parametrize(
    ("table", "column"),
    [("services", "slug"), ("posts", "slug"), ("invoices", "number"),
     ("idempotency_keys", "key"), ("payment_events", "provider_event_id")],
)  # fmt: skip
def test_unique_keys_are_per_tenant(sql, a, b, table, column):
    (ta, rows_a), (tb, rows_b) = a, b
    value = f"shared-{uuid.uuid4().hex[:8]}"
    statement = text(f'update "{table}" set "{column}" = :v where tenant_id = :t and id = :id')
    sql.execute(statement, {"v": value, "t": ta.id, "id": rows_a[table]})
    sql.execute(statement, {"v": value, "t": tb.id, "id": rows_b[table]})  # other tenant: fine
    copy = sql.execute(
        text(f'select * from "{table}" where tenant_id = :t and id = :id'),
        {"t": ta.id, "id": rows_a[table]},
    ).mappings().one()  # fmt: skip
    duplicate = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in copy.items()}
    duplicate["id"] = uuid.uuid4()
    columns = ", ".join(f'"{c}"' for c in duplicate)
    values = ", ".join(f":{c}" for c in duplicate)
    with pytest.raises(IntegrityError, match=f"uq_{table}_tenant_id_{column}"):
        sql.execute(text(f'insert into "{table}" ({columns}) values ({values})'), duplicate)


@pytest.mark.parametrize("table", ["booking_settings", "communication_settings", "thresholds"])
def test_singletons_allow_one_row_per_tenant(sql, a, table):
    ta, _ = a
    with pytest.raises(IntegrityError, match=f"uq_{table}_tenant_id"):
        sql.execute(text(f'insert into "{table}" (tenant_id) values (:t)'), {"t": ta.id})


# ----------------------------------------------------------------------- tenant deletion


def test_deleting_a_tenant_removes_its_rows_everywhere_and_nothing_else(db, admin, b):
    doomed = make_tenant(db)
    seed_every_table(db, doomed)
    tb, _ = b
    with admin.begin() as conn:
        conn.execute(text("delete from tenants where id = :t"), {"t": doomed.id})
    with admin.connect() as conn:
        for table in TENANT_TABLES:
            counts = conn.execute(
                text(f'select count(*) filter (where tenant_id = :d),'
                     f' count(*) filter (where tenant_id = :b) from "{table}"'),
                {"d": doomed.id, "b": tb.id},
            ).one()  # fmt: skip
            assert counts[0] == 0, table
            assert counts[1] >= 1, table


# --------------------------------------------------------- models and migration agree

BUSINESS_TABLES = [t for t in TENANT_TABLES if t != "tenant_memberships"]


def test_check_constraints_carry_the_names_the_models_give_them(admin):
    """Autogenerate does not compare CHECK constraints, so names are compared here.

    (Scoped to the business tables: the core migration 0001 double-prefixes its CHECK
    names — ck_tenants_ck_tenants_... — which is reported, not fixed, here.)"""
    dialect = admin.dialect
    declared = set()
    for name in BUSINESS_TABLES:
        ddl = str(CreateTable(Base.metadata.tables[name]).compile(dialect=dialect))
        declared |= {(name, m) for m in re.findall(r"CONSTRAINT (\w+) CHECK", ddl)}
    with admin.connect() as conn:
        actual = {
            (r.table, r.conname)
            for r in conn.execute(
                text("select conrelid::regclass::text as table, conname from pg_constraint"
                     " where contype = 'c' and conrelid::regclass::text = any(:t)"),
                {"t": BUSINESS_TABLES},
            )
        }  # fmt: skip
    assert actual == declared


def test_the_migration_builds_what_the_models_declare(admin):
    """Autogenerate finds nothing to add, drop or change: the models (which the guard and
    the app use) and the migration (which the database got) describe one schema."""
    with admin.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": _ours,
            },
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave out tables the app does not model (the job queue library's own)."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in Base.metadata.tables

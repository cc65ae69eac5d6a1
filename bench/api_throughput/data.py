"""The bench's tenants: one to read from, one to write into (so writes never change what
the reads and lists see), each with an owner, a client, a service and bookings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from tenantry.auth.passwords import hash_password
from tenantry.db.engine import Database
from tenantry.tenants.lifecycle import add_member, ensure_user, provision_tenant

PASSWORD = "bench-password-0"


@dataclass(frozen=True)
class BenchTenant:
    id: uuid.UUID
    slug: str
    owner_email: str
    client_id: uuid.UUID
    service_id: uuid.UUID
    booking_id: uuid.UUID  # one booking to read


def seed(db: Database, *, bookings: int, label: str, advance_days: int = 90) -> BenchTenant:
    suffix = uuid.uuid4().hex[:6]
    slug = f"bench-{label}-{suffix}"
    tenant = provision_tenant(db, slug=slug, name=f"Bench {label}")
    hashed = hash_password(PASSWORD)
    owner_email = f"owner@{slug}.test"
    owner = ensure_user(db, email=owner_email, password_hash=hashed)
    client = ensure_user(db, email=f"client@{slug}.test", password_hash=hashed)
    add_member(db, tenant_id=tenant.id, user_id=owner, role="owner")
    add_member(db, tenant_id=tenant.id, user_id=client, role="client")
    with db.system_session(reason="bench data") as session:
        service_id = session.execute(
            text(
                "insert into services (tenant_id, slug, name, price_cents, duration_minutes)"
                " values (:t, 'svc', 'Bench service', 5000, 60) returning id"
            ),
            {"t": tenant.id},
        ).scalar_one()
        session.execute(
            text(
                "insert into bookings (tenant_id, client_id, service_id, starts_at, ends_at,"
                " notes)"
                " select :t, :c, :s, now() + g * interval '1 hour',"
                " now() + g * interval '1 hour' + interval '1 hour', 'bench booking ' || g"
                " from generate_series(1, :n) g"
            ),
            {"t": tenant.id, "c": client, "s": service_id, "n": bookings},
        )
        booking_id = session.execute(
            text("select id from bookings where tenant_id = :t order by starts_at limit 1"),
            {"t": tenant.id},
        ).scalar_one()
        # The write runs book one new hour per request: room for every hour they take.
        # An upsert: a new tenant has no settings row until someone saves one, and an
        # UPDATE alone changed nothing — every Tenantry write past the default 90 days
        # was then a 422 ``too_far_ahead`` (the report's "non-2xx" runs).
        session.execute(
            text(
                "insert into booking_settings (id, tenant_id, max_advance_days)"
                " values (gen_random_uuid(), :t, :d) on conflict (tenant_id)"
                " do update set max_advance_days = excluded.max_advance_days"
            ),
            {"d": advance_days, "t": tenant.id},
        )
        session.execute(text("analyze bookings"))
    return BenchTenant(tenant.id, slug, owner_email, client, service_id, booking_id)


def seed_filler(db: Database, *, bookings: int) -> None:
    """Other tenants' rows: ``bookings`` in a tenant nobody reads, then ANALYZE.

    Without them the bookings table starts with the read tenant's 200 rows, the planner
    reads a tenant's ``count(*)`` with a sequential scan, and every write run's new rows
    (thousands, in the write tenant) made that scan, and so the list scenario on BOTH
    sides, slower round after round until autovacuum re-analysed the table (the bare
    list swung 277-1,040 req/s between rounds). In a table that is mostly other tenants'
    rows — as in any real multi-tenant table — the plan is the tenant index from the
    start and stays so, however many rows the write runs add.
    """
    tenant = provision_tenant(db, slug=f"bench-filler-{uuid.uuid4().hex[:6]}", name="Bench filler")
    client = ensure_user(db, email=f"client@filler-{tenant.id.hex[:8]}.test", password_hash="-")
    add_member(db, tenant_id=tenant.id, user_id=client, role="client")
    with db.system_session(reason="bench filler") as session:
        service_id = session.execute(
            text(
                "insert into services (tenant_id, slug, name, price_cents, duration_minutes)"
                " values (:t, 'svc', 'Filler service', 5000, 60) returning id"
            ),
            {"t": tenant.id},
        ).scalar_one()
        session.execute(
            text(
                "insert into bookings (tenant_id, client_id, service_id, starts_at, ends_at)"
                " select :t, :c, :s, now() + g * interval '1 hour',"
                " now() + g * interval '1 hour' + interval '1 hour'"
                " from generate_series(1, :n) g"
            ),
            {"t": tenant.id, "c": client, "s": service_id, "n": bookings},
        )
        session.execute(text("analyze bookings"))


def seed_bench(db: Database, *, bookings: int, filler: int) -> tuple[BenchTenant, BenchTenant]:
    """The bench's two tenants, ``(read, write)``, and the filler (none when ``filler`` is 0).

    The write tenant's bookings start far in the future (100 years) so that the write
    runs' new bookings, placed from now on, never meet its existing one.
    """
    read = seed(db, bookings=bookings, label="read")
    write = seed(db, bookings=1, label="write", advance_days=36500)
    if filler:
        seed_filler(db, bookings=filler)
    return read, write

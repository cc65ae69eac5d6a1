"""Where each tenant table's tenant comes from: the seed's backfill notes, in our columns.

The relations themselves (which column points to which table) are read from the
target schema's composite foreign keys, so they follow the migrations. What is written
down here is only the *order* in which relations are asked — the seed's COALESCE
chains (docs/legacy.md quotes them) — and it must name every tenant table the
migrations create: a table without an entry makes every command refuse ("no
derivation rule") instead of skipping it, and ``tests/unit/test_legacy_rules.py``
fails, so a new tenant table cannot slip through unconverted.

Every relation of a row is checked, not only the ones asked: a row whose client is in
one tenant and whose service is in another is a conflict, whatever the order says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tenantry.legacy.catalogue import Snapshot

MEMBERSHIPS = "tenant_memberships"

# table -> relation columns asked in order (COALESCE). () = a root table: nothing to
# derive from, so a row with no tenant is an orphan.
DERIVATIONS: dict[str, tuple[str, ...]] = {
    MEMBERSHIPS: (),
    "services": (),
    # seed: ServiceRequest = COALESCE(user(client).tenant, service.tenant)
    "service_requests": ("client_id", "service_id"),
    # seed: Booking = COALESCE(user(client).tenant, serviceRequest.tenant, service.tenant)
    "bookings": ("client_id", "service_request_id", "service_id"),
    # seed: WorkOrder = COALESCE(serviceRequest, booking, user, service); our work orders
    # carry no client or service (they come through the request or booking), and the
    # user on a work order is its assignee.
    "work_orders": ("service_request_id", "booking_id", "assignee_id"),
    # seed: Invoice = COALESCE(booking.tenant, user(client).tenant)
    "invoices": ("booking_id", "client_id"),
    "invoice_lines": ("invoice_id",),
    # seed: Expense = user.tenant
    "expenses": ("user_id",),
    # seed: Attachment / ScheduledReminder / ChatMessage = serviceRequest.tenant
    "attachments": ("service_request_id", "expense_id", "uploaded_by_id"),
    "scheduled_reminders": ("service_request_id", "booking_id"),
    "chat_messages": ("service_request_id", "sender_id"),
    "posts": ("author_id",),
    "payment_events": ("invoice_id",),
    "contact_submissions": (),
    "idempotency_keys": (),
    "held_jobs": (),
    "role_permissions": (),
    # seed: settings tables are unique per tenant already ("should not happen")
    "booking_settings": (),
    "communication_settings": (),
    "thresholds": (),
    # invitations are new with Tenantry: a legacy database has none to derive
    "invitations": (),
}

_FK = re.compile(
    r"^FOREIGN KEY \(tenant_id, (?P<col>\w+)\) "
    r"REFERENCES (?P<parent>\w+)\(tenant_id, (?P<key>\w+)\)"
)


@dataclass(frozen=True)
class Relation:
    column: str
    parent: str  # a tenant table, or "users" for a member reference
    is_user: bool

    @property
    def label(self) -> str:
        return f"{self.column} ({'user' if self.is_user else self.parent})"


@dataclass(frozen=True)
class TableRule:
    table: str
    sources: tuple[Relation, ...]  # asked in order
    checks: tuple[Relation, ...]  # every relation (sources included) must agree

    @property
    def parents(self) -> tuple[Relation, ...]:
        return tuple(r for r in self.checks if not r.is_user)


class RuleError(Exception):
    pass


def relations(target: Snapshot, table: str) -> list[Relation]:
    """The composite foreign keys of ``table`` in the target schema, as relations."""
    found = []
    for (t, _name), con in sorted(target.constraints.items()):
        if t != table or con.kind != "f":
            continue
        m = _FK.match(con.definition)
        if m is None:
            continue
        is_user = m["parent"] == MEMBERSHIPS and m["key"] == "user_id"
        found.append(Relation(m["col"], "users" if is_user else m["parent"], is_user))
    return found


def table_rules(target: Snapshot) -> list[TableRule]:
    """A rule per tenant table, parents before children; RuleError if one is missing."""
    tenant_tables = target.tenant_tables()
    missing = [t for t in tenant_tables if t not in DERIVATIONS]
    if missing:
        raise RuleError(
            "no derivation rule for tenant table(s) "
            + ", ".join(missing)
            + ": add them to DERIVATIONS in tenantry/legacy/rules.py"
        )
    rules = {}
    # Memberships are where users' tenants come FROM; a membership without a tenant is
    # refused by the backfill, never derived.
    for table in (t for t in tenant_tables if t != MEMBERSHIPS):
        rels = {r.column: r for r in relations(target, table)}
        unknown = [c for c in DERIVATIONS[table] if c not in rels]
        if unknown:
            raise RuleError(
                f"derivation rule for {table} names {', '.join(unknown)}, which the target "
                "schema has no composite foreign key for"
            )
        sources = tuple(rels[c] for c in DERIVATIONS[table])
        rules[table] = TableRule(table, sources, tuple(rels.values()))
    return _dependency_order(rules)


def _dependency_order(rules: dict[str, TableRule]) -> list[TableRule]:
    ordered: list[TableRule] = []
    seen: set[str] = set()

    def visit(table: str, path: tuple[str, ...]) -> None:
        if table in seen:
            return
        if table in path:
            raise RuleError("a cycle of relations through " + " -> ".join((*path, table)))
        for rel in rules[table].parents:
            if rel.parent != table and rel.parent in rules:
                visit(rel.parent, (*path, table))
        seen.add(table)
        ordered.append(rules[table])

    for table in sorted(rules):
        visit(table, ())
    return ordered

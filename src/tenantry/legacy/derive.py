"""The SQL that decides a row's tenant from its relations (one statement per batch).

For a table's rows with no tenant, every relation of the row is looked up: a parent
row's ``tenant_id``, or a user's tenant. The tenant is the first answer in the rule's
order (the seed's COALESCE chain) and the row is *decided* only when every other
relation agrees with it: each linked parent exists and has that tenant, each linked
user belongs to it. Anything else is a problem row — an **orphan** when no relation
gives a tenant, a **conflict** when relations disagree (or point to a missing row) —
and is never guessed.

A user's tenant (``user_tenants``, rebuilt at the start of each run) comes from a
legacy ``users.tenant_id`` where that column exists and is set, else from the user's
memberships when there is exactly one; a user of several tenants decides nothing on
their own but still has to belong to the row's tenant.

With ``--orphans assign:<slug>`` a problem row takes that tenant when every relation
allows it (parents in that tenant; users in it or in none — those get a client
membership there, reported); rows that cannot be assigned without breaking a key stay
problems and are quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenantry.legacy.rules import TableRule
from tenantry.legacy.state import SCHEMA
from tenantry.legacy.tighten import q

LIVE_HELPER = f"{SCHEMA}.user_tenants"
SIM_HELPER = "pg_temp.sim_user_tenants"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def user_tenants_sql(helper: str, *, users_have_tenant: bool, temp: bool) -> list[str]:
    """(Re)build the user → tenant helper from memberships and a legacy users.tenant_id.

    Every user has a row (``tenants`` empty when they belong to no tenant), so one join
    tells both whether a referenced user exists and which tenants they are in.
    """
    legacy = "u.tenant_id" if users_have_tenant else "NULL::uuid"
    create = (
        [
            f"CREATE TEMP TABLE IF NOT EXISTS {helper.split('.')[-1]} "
            "(user_id uuid PRIMARY KEY, tenant_id uuid, tenants uuid[] NOT NULL)"
        ]
        if temp
        else []
    )
    return [
        *create,
        f"TRUNCATE {helper}",
        f"""
        INSERT INTO {helper} (user_id, tenant_id, tenants)
        SELECT u.id,
               coalesce({legacy}, CASE WHEN cardinality(m.tenants) = 1 THEN m.tenants[1] END),
               array(SELECT DISTINCT x FROM unnest(coalesce(m.tenants, '{{}}') || {legacy}) x
                     WHERE x IS NOT NULL ORDER BY x)
        FROM public.users u
        LEFT JOIN (SELECT user_id, array_agg(DISTINCT tenant_id ORDER BY tenant_id) AS tenants
                   FROM public.tenant_memberships WHERE tenant_id IS NOT NULL
                   GROUP BY user_id) m ON m.user_id = u.id
        """,
    ]


@dataclass
class Derivation:
    """SQL pieces for one table; ``sim`` reads not-yet-written parent tenants from temp tables."""

    rule: TableRule
    has_tenant: set[str]  # tables that have a tenant_id column
    helper: str = LIVE_HELPER
    sim: bool = False

    def _tenant_col(self, table: str, alias: str) -> str:
        return f"{alias}.tenant_id" if table in self.has_tenant else "NULL::uuid"

    def candidates(self, where: str, *, limit: bool) -> str:
        # the row's ctid lets the UPDATE find it again by a TID scan, not a search
        cols = ["t.ctid AS tid", "t.id"]
        joins = []
        for i, rel in enumerate(self.rule.checks):
            col = q(rel.column)
            cols.append(f"t.{col} AS l{i}")
            if rel.is_user:
                joins.append(f"LEFT JOIN {self.helper} u{i} ON u{i}.user_id = t.{col}")
                cols += [
                    f"u{i}.user_id IS NOT NULL AS e{i}",
                    f"u{i}.tenant_id AS k{i}",
                    f"nullif(u{i}.tenants, '{{}}') AS s{i}",  # NULL: in no tenant
                ]
            else:
                joins.append(f"LEFT JOIN public.{q(rel.parent)} p{i} ON p{i}.id = t.{col}")
                tenant = self._tenant_col(rel.parent, f"p{i}")
                if self.sim:
                    joins.append(
                        f"LEFT JOIN pg_temp.{q('sim_' + rel.parent)} sp{i} ON sp{i}.id = t.{col}"
                    )
                    tenant = f"coalesce({tenant}, sp{i}.tenant)"
                cols += [
                    f"p{i}.id IS NOT NULL AS e{i}",
                    f"{tenant} AS k{i}",
                    f"NULL::uuid[] AS s{i}",
                ]
        sql = f"SELECT {', '.join(cols)} FROM public.{q(self.rule.table)} t {' '.join(joins)} "
        sql += f"WHERE {where}"
        if limit:
            sql += " LIMIT %(limit)s"
        return sql

    def decided(self) -> str:
        """Columns derived, ok, assignable over ``b`` (the candidates)."""
        index = {rel.column: i for i, rel in enumerate(self.rule.checks)}
        sources = [f"k{index[rel.column]}" for rel in self.rule.sources]
        derived = f"coalesce({', '.join(sources)})" if sources else "NULL::uuid"
        agree, assignable = [], []
        for i, rel in enumerate(self.rule.checks):
            if rel.is_user:
                agree.append(f"(l{i} IS NULL OR (e{i} AND derived = ANY(s{i})))")
                assignable.append(
                    f"(l{i} IS NULL OR (e{i} AND (s{i} IS NULL OR %(assign)s::uuid = ANY(s{i}))))"
                )
            else:
                agree.append(f"(l{i} IS NULL OR (e{i} AND k{i} = derived))")
                assignable.append(f"(l{i} IS NULL OR (e{i} AND k{i} = %(assign)s::uuid))")
        ok = " AND ".join(["derived IS NOT NULL", *agree])
        can = " AND ".join(["%(assign)s::uuid IS NOT NULL", *assignable])
        return (
            f"d AS (SELECT b.*, {derived} AS derived FROM b), "
            f"e AS (SELECT d.*, coalesce({ok}, false) AS ok, "
            f"coalesce({can}, false) AS assignable FROM d)"
        )

    def problem_json(self) -> str:
        fields = ["'id', id", "'derived', derived"]
        for i in range(len(self.rule.checks)):
            fields += [f"'l{i}', l{i}", f"'e{i}', e{i}", f"'k{i}', k{i}", f"'s{i}', s{i}"]
        return f"json_build_object({', '.join(fields)})"

    def batch_sql(self, *, sweep: bool) -> str:
        """One batch: decide, write, create memberships, return the problems.

        ``sweep``: the NULL rows of a page range (``%(lo)s <= ctid < %(hi)s``, a TID
        range scan: the table is read once, in physical order, whatever the ids).
        Otherwise the catch-up: up to ``%(limit)s`` NULL rows that are not known
        problems (rows a writer moved behind the sweep, or wrote without a tenant).
        """
        t = q(self.rule.table)
        if sweep:
            where = "t.ctid >= %(lo)s::tid AND t.ctid < %(hi)s::tid AND t.tenant_id IS NULL"
        else:
            where = (
                f"t.tenant_id IS NULL AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.problems p "
                "WHERE p.table_name = %(table)s AND p.row_id = t.id)"
            )
        users = [i for i, rel in enumerate(self.rule.checks) if rel.is_user]
        membership = ""
        if users:
            pairs = ", ".join(f"(e.l{i}, e.s{i})" for i in users)
            membership = (
                ", mem AS (INSERT INTO public.tenant_memberships (tenant_id, user_id, role) "
                "SELECT DISTINCT %(assign)s::uuid, x.user_id, 'client' FROM e, "
                f"LATERAL (VALUES {pairs}) x(user_id, tenants) "
                "WHERE NOT e.ok AND e.assignable AND x.user_id IS NOT NULL "
                "AND x.tenants IS NULL ON CONFLICT DO NOTHING RETURNING user_id), "
                f"helper AS (INSERT INTO {self.helper} AS h (user_id, tenant_id, tenants) "
                "SELECT user_id, %(assign)s::uuid, ARRAY[%(assign)s::uuid] FROM mem "
                "ON CONFLICT (user_id) DO UPDATE SET tenant_id = excluded.tenant_id, "
                "tenants = excluded.tenants WHERE h.tenants = '{}')"
            )
        mem_count = "(SELECT count(*) FROM mem)" if users else "0"
        # A row a writer changed since the batch read it fails the ctid/NULL recheck
        # and is not written: the catch-up sees it again.
        return (
            f"WITH b AS ({self.candidates(where, limit=not sweep)}), {self.decided()}, "
            f"upd AS (UPDATE public.{t} t SET tenant_id = "
            "CASE WHEN e.ok THEN e.derived ELSE %(assign)s::uuid END "
            "FROM e WHERE t.ctid = ANY (ARRAY(SELECT tid FROM e WHERE ok OR assignable)) "
            "AND t.ctid = e.tid AND t.id = e.id AND (e.ok OR e.assignable) "
            f"AND t.tenant_id IS NULL RETURNING e.ok){membership} "
            "SELECT (SELECT count(*) FROM b), "
            "(SELECT count(*) FILTER (WHERE ok) FROM upd), "
            f"(SELECT count(*) FILTER (WHERE NOT ok) FROM upd), {mem_count}, "
            f"(SELECT coalesce(json_agg({self.problem_json()}), '[]') FROM e "
            "WHERE NOT ok AND NOT assignable)"
        )

    def simulate_sql(self) -> str:
        """Decide every NULL row at once into pg_temp.sim_<table> (nothing is written)."""
        t = self.rule.table
        where = "t.tenant_id IS NULL" if t in self.has_tenant else "true"
        return (
            f"CREATE TEMP TABLE {q('sim_' + t)} AS "
            f"WITH b AS ({self.candidates(where, limit=False)}), {self.decided()} "
            "SELECT id, CASE WHEN ok THEN derived WHEN assignable THEN %(assign)s::uuid END "
            "AS tenant, ok, assignable, derived IS NULL AS orphan FROM e"
        )


def reason(rule: TableRule, problem: dict[str, object], assign_slug: str | None) -> tuple[str, str]:
    """(kind, reason) of a problem row, in words an operator can act on."""
    derived = problem.get("derived")
    parts, disagree = [], False
    for i, rel in enumerate(rule.checks):
        link = problem.get(f"l{i}")
        if link is None:
            continue
        exists, tenant = problem.get(f"e{i}"), problem.get(f"k{i}")
        tenants: Any = problem.get(f"s{i}") or []
        if not exists:
            parts.append(f"{rel.column} {link} does not exist")
            disagree = True
        elif rel.is_user:
            if not tenants:
                parts.append(f"{rel.column}: user {link} belongs to no tenant")
            elif derived is not None and derived not in tenants:
                parts.append(f"{rel.column}: user {link} is not a member of tenant {derived}")
                disagree = True
            elif tenant is None:
                parts.append(f"{rel.column}: user {link} is in several tenants")
        elif tenant is None:
            parts.append(f"{rel.column}: {rel.parent} {link} has no tenant")
        elif derived is not None and tenant != derived:
            parts.append(f"{rel.column} says tenant {tenant}, but the row's tenant is {derived}")
            disagree = True
    kind = "conflict" if disagree else "orphan"
    text = "; ".join(parts) if parts else "no relation gives a tenant"
    if kind == "orphan" and not parts:
        text = (
            "no relation gives a tenant"
            if rule.checks
            else f"{rule.table} has no relation to derive a tenant from"
        )
    if assign_slug is not None:
        text = f"cannot be assigned to {assign_slug} without breaking a key: {text}"
    return kind, text

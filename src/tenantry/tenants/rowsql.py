"""The one query that turns a tenant's rows into archive lines.

Export writes its output; restore runs it again over the rows it loaded, mapped back
to the archive's ids, and compares the SHA-256 of the lines with the manifest. The
same SQL both ways is what makes "checksums equal" mean "the same rows".

A line is PostgreSQL's ``row_to_json`` of the row (columns in table order), rows in
primary-key order. Output that depends on session settings is pinned first
(``pin_session``): time zone UTC, ISO dates, default float digits.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from tenantry.tenants.catalogue import TENANT_COLUMN, TenantTable

USER_MAP = sql.Identifier("lifecycle_user_map")  # pg_temp: (old uuid, new uuid)
UUID_TEXT_LENGTH = 36


def pin_session(conn: psycopg.Connection) -> None:
    """Session settings that change how rows print (transaction-local)."""
    for name, value in (
        ("TimeZone", "UTC"),
        ("DateStyle", "ISO, YMD"),
        ("IntervalStyle", "postgres"),
        ("extra_float_digits", "1"),
    ):
        conn.execute("select set_config(%s, %s, true)", (name, value))


def select_lines(table: TenantTable, *, mapped: bool) -> sql.Composed:
    """``select <json line> ... where tenant_id = %(tid)s order by <key>``.

    ``mapped``: the rows were restored under new ids; print them under the archive's
    (``%(orig)s`` for the tenant, ``pg_temp.lifecycle_user_map`` for users, the
    original prefix in prefixed text columns), so the lines equal the exported ones.
    """
    exprs = [_column_expr(table, column, mapped) for column in table.columns]
    order = sql.SQL(", ").join(sql.Identifier("x", c) for c in table.key)
    return sql.SQL(
        "select row_to_json(x)::text from (select {exprs} from {table} t "
        "where t.{tenant} = %(tid)s) x order by {order}"
    ).format(
        exprs=sql.SQL(", ").join(exprs),
        table=table.ident(),
        tenant=sql.Identifier(TENANT_COLUMN),
        order=order,
    )


def _column_expr(table: TenantTable, column: str, mapped: bool) -> sql.Composable:
    col = sql.Identifier("t", column)
    alias = sql.Identifier(column)
    if not mapped:
        return col
    if column == TENANT_COLUMN:
        return sql.SQL("%(orig)s::uuid as {}").format(alias)
    if column in table.user_columns:
        return sql.SQL(
            "coalesce((select m.old from pg_temp.{map} m where m.new = {col}), {col}) as {alias}"
        ).format(map=USER_MAP, col=col, alias=alias)
    if column in table.prefixed_columns:
        return sql.SQL(
            "case when starts_with({col}, %(tid_prefix)s) "
            "then %(orig_prefix)s || substr({col}, {cut}) else {col} end as {alias}"
        ).format(col=col, cut=sql.Literal(UUID_TEXT_LENGTH + 2), alias=alias)
    return col


def insert_from_load(table: TenantTable) -> sql.Composed:
    """Insert the lines held in ``pg_temp.lifecycle_load(doc jsonb)`` into ``table``
    under the new tenant id (``%(tid)s``) and new user ids."""
    names = table.insert_columns
    exprs: list[sql.Composable] = []
    for column in names:
        value = sql.Identifier("r", column)
        if column == TENANT_COLUMN:
            exprs.append(sql.SQL("%(tid)s::uuid"))
        elif column in table.user_columns:
            exprs.append(
                sql.SQL(
                    "coalesce((select m.new from pg_temp.{map} m where m.old = {v}), {v})"
                ).format(map=USER_MAP, v=value)
            )
        elif column in table.prefixed_columns:
            exprs.append(
                sql.SQL(
                    "case when starts_with({v}, %(orig_prefix)s) "
                    "then %(tid_prefix)s || substr({v}, {cut}) else {v} end"
                ).format(v=value, cut=sql.Literal(UUID_TEXT_LENGTH + 2))
            )
        else:
            exprs.append(value)
    return sql.SQL(
        "insert into {table} ({cols}) select {exprs} "
        "from pg_temp.lifecycle_load l, jsonb_populate_record(null::{table}, l.doc) r"
    ).format(
        table=table.ident(),
        cols=sql.SQL(", ").join(sql.Identifier(c) for c in names),
        exprs=sql.SQL(", ").join(exprs),
    )

"""The loop engine's cursors describe a result exactly as psycopg's own do, built only
when read (``tenantry.db.cursor``)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from tenantry.db.cursor import DescribingAsyncCursor, LazyDescription
from tenantry.db.engine import loop_app_engine

QUERIES = (
    "select 1 as one, 'x'::text as two, now() as three, null::uuid as four, 1.5::numeric(4,2)",
    "select",  # tuples, no fields
    "select 1 where false",
    "set local application_name = 'x'",  # no tuples: None
)


def _columns(description: Any) -> Any:
    if description is None:
        return None
    return [
        (c.name, c.type_code, c.display_size, c.internal_size, c.precision, c.scale, c.type_display)
        for c in description
    ]


def test_the_loop_engines_cursors_describe_results_as_psycopg_does(db):
    engine = loop_app_engine(db.urls.app, pool_size=1, max_overflow=0)

    async def compare() -> None:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, psycopg.AsyncConnection)
            assert raw.cursor_factory is DescribingAsyncCursor
            for query in QUERIES:
                ours = raw.cursor()
                plain = psycopg.AsyncCursor(raw)
                await ours.execute(query)
                await plain.execute(query)
                described = ours.description
                assert _columns(described) == _columns(plain.description), query
                if described is not None:
                    assert isinstance(described, LazyDescription)
                    assert len(described) == len(plain.description or ())
                    assert _columns(described[-1:]) == _columns((plain.description or [])[-1:])
            # A description read before the cursor moved on describes the result it was
            # read from, even if it is built afterwards.
            cursor = raw.cursor()
            await cursor.execute("select 1 as first")
            early = cursor.description
            await cursor.execute("select 2 as second, 3 as third")
            assert early is not None and [c.name for c in early] == ["first"]
            await conn.rollback()
        await engine.dispose()

    asyncio.run(compare())

"""Server workers start together and each re-asserts roles and grants
(``ensure_database``): concurrent starts must take turns, never fail with PostgreSQL's
"tuple concurrently updated"."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tenantry.db.bootstrap import DatabaseUrls, ensure_database


def test_concurrent_starts_re_assert_roles_and_grants_without_failing(
    database_urls: DatabaseUrls,
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [pool.submit(ensure_database, database_urls) for _ in range(24)]
        errors = [f.exception() for f in outcomes if f.exception() is not None]
    assert errors == []

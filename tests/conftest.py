"""Test harness: a fresh, migrated PostgreSQL database per test run.

With ``DATABASE_URL`` set, a new database ``tenantry_test_<random>`` (and its two
roles) is created on that server and dropped afterwards. Without it, a private
embedded PostgreSQL is started in a temporary folder and deleted at the end.
Tests never share rows: each one provisions its own tenants with random slugs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from tenantry.db.bootstrap import DatabaseUrls, admin_url, ensure_database, resolve_urls
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.settings import Settings, set_settings
from tests.helpers import TEST_KEYS, login

# ``login`` and ``TEST_KEYS`` live in tests.helpers; they stay importable from here for
# modules of other branches.
__all__ = ["TEST_KEYS", "login"]

if TYPE_CHECKING:
    from tests.factories import TenantFixture

# Starlette's TestClient sends ``Host: testserver``; the edge refuses hosts it does not
# know, so the test run declares it (every Settings() built in a test reads this).
os.environ.setdefault("TENANTRY_ALLOWED_HOSTS", "testserver")

# CI runs Hypothesis derandomised: the same examples every run, so a red build is the
# code's doing, never the draw's. Locally the default (random) profile keeps exploring.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    """Give every test session a private temporary root unless ``--basetemp`` names one.

    pytest's default root (``/tmp/pytest-of-<user>``) is shared by all sessions of a
    user, and each new session sets it to mode 0700. Run as root, the embedded
    PostgreSQL runs as its own system user and reaches its data folder through that
    root: a second test run started meanwhile (another checkout, a helper script) cut
    off the first run's database mid-suite, and every later test failed. The private
    root is removed at exit after a run that passed (a failed run keeps it to read);
    registered before the embedded server's own exit hooks, it runs after them."""
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return
    private = tempfile.mkdtemp(prefix="tenantry-pytest-")
    config.option.basetemp = private

    def remove_if_passed() -> None:
        if config.stash.get(_PASSED, False):
            shutil.rmtree(private, ignore_errors=True)

    atexit.register(remove_if_passed)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_PASSED] = exitstatus == 0


_PASSED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tenantry")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    name = "tenantry_test_" + uuid.uuid4().hex[:8] if os.environ.get("DATABASE_URL") else "tenantry"
    s = Settings(
        data_dir=data_dir,
        database_name=name,
        secret_keys=TEST_KEYS,
        log_json=True,
        # Generous limits: tests log in a lot from one address; the limiter tests
        # build their own settings.
        login_failures_per_account="1000/minute",
        login_attempts_per_address="10000/minute",
        account_actions_per_address="10000/minute",
        account_mails_per_email="1000/minute",
    )
    set_settings(s)
    return s


@pytest.fixture(scope="session")
def database_urls(settings: Settings) -> Iterator[DatabaseUrls]:
    admin = admin_url(settings) if settings.database_url else None
    if admin is None:
        from tenantry.db.embedded import start_embedded

        admin = start_embedded(settings.pg_dir, cleanup_mode="delete")
    urls = resolve_urls(settings, admin)
    ensure_database(urls)
    # Tests need no durability across a crash; skipping the WAL flush per commit makes
    # the commit-heavy HTTP tests several times faster on a busy disk.
    tune = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
    with tune.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{urls.database}" SET synchronous_commit TO off'))
    tune.dispose()
    upgrade(urls)
    yield urls
    if settings.database_url:
        engine = create_engine(urls.admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{urls.database}" WITH (FORCE)'))
            for role in urls.roles:
                conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()


@pytest.fixture(scope="session")
def db(database_urls: DatabaseUrls) -> Iterator[Database]:
    database = Database(database_urls)
    yield database
    database.dispose()


@pytest.fixture
def tenant_a(db: Database) -> TenantFixture:
    from tests.factories import make_tenant

    return make_tenant(db)


@pytest.fixture
def tenant_b(db: Database) -> TenantFixture:
    from tests.factories import make_tenant

    return make_tenant(db)


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from tenantry.app import create_app

    return create_app(settings, db)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """An HTTP client through the real app (own cookie jar per test)."""
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c

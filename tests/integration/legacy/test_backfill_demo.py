"""The backfill on an init-demo database: derived tenants, orphans, kill and resume, rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tenantry.legacy.backfill import Backfill, parse_policy
from tenantry.legacy.connect import connect
from tenantry.legacy.context import JOURNEY_LOCK, LegacyError, load
from tenantry.legacy.demo import init_demo
from tenantry.legacy.journey import run_tighten
from tenantry.legacy.quarantine import restore
from tenantry.legacy.report import simulate
from tests.integration.legacy.conftest import expected_tenants, state_of

ROWS = 1500
TENANTRY = [sys.executable, "-m", "tenantry.ops.cli"]


def _env(settings, database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env.update(
        TENANTRY_DATA_DIR=str(settings.data_dir),
        TENANTRY_DATABASE_NAME=database,
        TENANTRY_SECRET_KEYS=settings.secret_keys,
    )
    return env


def _kill_mid_run(settings, database: str, urls) -> None:
    """Start the backfill as a real process and SIGKILL it once batches have committed."""
    # small batches with a pause after each: the run lasts long enough to be killed
    cmd = [*TENANTRY, "legacy", "backfill", "--orphans", "quarantine", "--batch-size", "7"]
    cmd += ["--pause-ms", "20"]
    proc = subprocess.Popen(
        cmd,
        env=_env(settings, database),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    with connect(urls.migrator) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select coalesce(sum(backfilled), 0), bool_and(done) "
                "from tenantry_legacy.checkpoints"
            ).fetchone()
            conn.commit()
            if row and row[0] >= 300:
                break
            assert proc.poll() is None, f"backfill ended before it could be killed: {proc.stderr}"
            time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with connect(urls.migrator) as conn:
        unfinished = conn.execute(
            "select count(*) from tenantry_legacy.runs where finished_at is null"
        ).fetchone()
    assert unfinished == (1,), "the killed run should be unfinished"


def test_backfill_derives_quarantines_survives_a_kill_and_changes_nothing_on_rerun(
    settings, new_database
):
    killed, straight = new_database(), new_database()
    for urls in (killed, straight):
        init_demo(urls, ROWS)
    with connect(killed.migrator) as conn:
        expected = expected_tenants(conn)
    problems = {t: {i for i, v in rows.items() if v is None} for t, rows in expected.items()}
    assert sum(map(len, problems.values())) > 10, "the demo should hold orphans and conflicts"

    # report-nulls agrees with the test's own derivation
    ctx = load(killed)
    report = {r.table: r for r in simulate(ctx)}
    for table, rows in expected.items():
        if table in report:
            assert report[table].null - report[table].derivable == len(problems[table]), table

    _kill_mid_run(settings, killed.database, killed)
    # tighten refuses while NULLs remain, and says how many
    with pytest.raises(LegacyError, match="rows without a tenant remain") as refused:
        run_tighten(load(killed))
    assert "bookings" in str(refused.value)

    policy = parse_policy("quarantine")
    Backfill(load(killed), policy, batch_size=7).run()  # resumes the killed run
    Backfill(load(straight), policy, batch_size=7).run()
    after = state_of(killed)
    assert after == state_of(straight), "kill + resume must end where an uninterrupted run does"

    with connect(killed.migrator) as conn:
        for table, rows in expected.items():
            actual = dict(conn.execute(f"select id, tenant_id from {table}").fetchall())
            for row_id, tenant in rows.items():
                if tenant is not None and row_id in actual:
                    assert actual[row_id] == tenant, (table, row_id)
            quarantined = {
                r[0]: r[1:]
                for r in conn.execute(
                    "select row_id, kind, had_tenant from tenantry_legacy.quarantine "
                    "where table_name = %s",
                    (table,),
                )
            }
            # every orphan and conflict is in quarantine, none is left in the table ...
            assert problems[table] <= set(quarantined), table
            assert not problems[table] & set(actual), table
            # ... and nothing else was moved but rows that referenced one of them
            for row_id, (kind, _had) in quarantined.items():
                assert row_id in problems[table] or kind == "with_parent", (table, row_id)
            # nothing is lost: table + quarantine = what the table had
            assert set(actual) | set(quarantined) == set(rows), table
        account = conn.execute(
            "select table_name, null_at_start, backfilled + assigned + quarantined "
            "from tenantry_legacy.checkpoints where table_name <> 'tenant_memberships'"
        ).fetchall()
    for table, null_at_start, handled in account:
        assert null_at_start == handled, f"{table}: the account does not add up"

    Backfill(load(killed), policy, batch_size=7).run()
    rerun = state_of(killed)
    assert {k: v for k, v in rerun.items() if k != "~account"} == {
        k: v for k, v in after.items() if k != "~account"
    }, "a second run must change nothing"

    # restore puts every quarantined row back (before tighten: without a tenant)
    with connect(straight.migrator) as conn:
        moved = conn.execute("select count(*) from tenantry_legacy.quarantine").fetchone()[0]
        restored = restore(conn, load(straight).rules, tables=None, tenant_id=None)
        assert sum(restored.values()) == moved
        assert conn.execute("select count(*) from tenantry_legacy.quarantine").fetchone() == (0,)


def test_assign_policy_gives_orphans_the_tenant_where_keys_allow(new_database):
    urls = new_database()
    init_demo(urls, 600)
    with connect(urls.migrator) as conn:
        expected = expected_tenants(conn)
        target = conn.execute("select id from tenants where slug = 'legacy-0'").fetchone()[0]
    accounts = Backfill(load(urls), parse_policy("assign:legacy-0"), batch_size=100).run()
    assert all(a.adds_up for a in accounts)
    assert sum(a.assigned for a in accounts) > 0
    assert sum(a.memberships_created for a in accounts) > 0  # users of no tenant joined it
    with connect(urls.migrator) as conn:
        for table, rows in expected.items():
            actual = dict(conn.execute(f"select id, tenant_id from {table}").fetchall())
            quarantined = {
                r[0]
                for r in conn.execute(
                    "select row_id from tenantry_legacy.quarantine where table_name = %s", (table,)
                )
            }
            for row_id, tenant in rows.items():
                if tenant is not None and row_id in actual:
                    assert actual[row_id] == tenant
                elif tenant is None and row_id in actual:
                    assert actual[row_id] == target, (table, row_id)  # assigned
                else:
                    assert row_id in quarantined  # could not be assigned without a broken key


def test_the_toolkit_names_what_it_cannot_handle(new_database):
    urls = new_database()
    init_demo(urls, 300)
    with connect(urls.migrator) as conn:
        conn.execute("CREATE TABLE legacy_notes (id uuid PRIMARY KEY, body text)")
        conn.execute("ALTER TABLE bookings DROP COLUMN client_id")
        conn.commit()
    with pytest.raises(LegacyError) as refused:
        Backfill(load(urls), parse_policy(None)).run()
    message = str(refused.value)
    assert "unknown table legacy_notes" in message
    assert "column bookings.client_id" in message and "is missing" in message
    with pytest.raises(LegacyError, match="--orphans must be"):
        parse_policy("delete")


def test_one_journey_command_at_a_time(new_database):
    urls = new_database()
    init_demo(urls, 300)
    ctx = load(urls)
    with connect(urls.migrator) as other:  # another backfill or tighten holds the lock
        other.execute("select pg_advisory_lock(%s)", (JOURNEY_LOCK,))
        with pytest.raises(LegacyError, match="another tenantry legacy backfill or tighten"):
            Backfill(ctx, parse_policy("quarantine")).run()
        other.execute("select pg_advisory_unlock(%s)", (JOURNEY_LOCK,))
    accounts = Backfill(ctx, parse_policy("quarantine")).run()
    assert all(a.adds_up for a in accounts)

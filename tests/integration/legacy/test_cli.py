"""``tenantry db apply-sql`` and the legacy commands' help, through the command line.

The commands run in-process (typer's runner: the real argument parsing, messages and exit
codes) — a subprocess would only add the interpreter's start-up; the backfill's kill test
runs the real process where a process matters.
"""

from __future__ import annotations

from typer.testing import CliRunner

from tenantry.legacy.connect import connect
from tenantry.ops.cli import app

GOOD = """-- creates a table and a function whose body holds semicolons
CREATE TABLE notes (id int PRIMARY KEY, body text);
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN upper(t) || ';'; END $$;
INSERT INTO notes VALUES (1, shout('a;b'));
"""
BAD = """CREATE TABLE kept_nowhere (id int);
/* the next statement fails */
INSERT INTO kept_nowhere VALUES ('not a number');
"""


def test_apply_sql_runs_a_file_in_one_transaction_and_reports_the_failing_line(
    settings, new_database, tmp_path
):
    urls = new_database()
    where = ["--data-dir", str(settings.data_dir), "--database", urls.database]
    good, bad = tmp_path / "good.sql", tmp_path / "bad.sql"
    good.write_text(GOOD)
    bad.write_text(BAD)
    runner = CliRunner()
    ok = runner.invoke(app, ["db", "apply-sql", str(good), *where])
    assert ok.exit_code == 0, ok.output
    assert "3 statements applied" in ok.stdout
    failed = runner.invoke(app, ["db", "apply-sql", str(bad), *where])
    assert failed.exit_code == 1
    assert "statement 2 at line 3 failed" in failed.stderr
    assert "rolled back" in failed.stderr
    assert isinstance(failed.exception, SystemExit)  # a clean exit: no traceback
    with connect(urls.migrator) as conn:
        assert conn.execute("select body from notes").fetchall() == [("A;B;",)]
        assert conn.execute("select to_regclass('kept_nowhere')").fetchone() == (None,)


def test_legacy_help_explains_the_journey_in_order():
    runner = CliRunner()
    out = runner.invoke(app, ["legacy", "--help"], terminal_width=120).output
    steps = [
        "init-demo",
        "report-nulls",
        "backfill --dry-run",
        "backfill --orphans",
        "restore-quarantine",
        "legacy tighten",
        "audit schema",
    ]
    positions = [out.index(s) for s in steps]
    assert positions == sorted(positions), out
    for number, command in enumerate(
        ["init-demo", "report-nulls", "backfill", "restore-quarantine", "tighten"], 1
    ):
        sub = runner.invoke(app, ["legacy", command, "--help"], terminal_width=120)
        assert sub.exit_code == 0 and "Step " in sub.output, (number, command)

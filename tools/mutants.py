"""The mutation check: deliberate security bugs, each of which the proof must catch.

    python3 dev.py mutants                 every mutant (and the unmutated baseline)
    python3 dev.py mutants host-check sig  only these (names from the table below)
    python3 dev.py mutants --list          the list, without running anything

For each mutant, a copy of the tree gets one source change (an exact text replacement;
a change whose anchor text is gone is reported as *not applied*, never silently
skipped), then:

1. the tests that guard that behaviour run against the copy (pytest, fresh database);
2. the copy is served (``tenantry serve --port 0`` on a fresh embedded PostgreSQL with
   demo data) and the *unmutated* ``tenantry probe --strict`` attacks it with the
   server's signing keys. A mutant that breaks one wall of two (the ORM guard, or the
   membership lookup the guard used to cover) is invisible from outside while the other
   wall holds — that is defence in depth working — so those mutants are served with the
   other data wall switched off, exactly as the in-process wall-alone tests run.

A mutant is *caught* when both the tests fail and the probe fails. The baseline (no
mutation) must pass both. A mutant served with a companion fault (the other wall off)
also gets a *control* run: the unmutated tree served the same way, which must hold —
so what the probe finds is the mutant's doing. The guard's write check is reachable
from outside only when some read lets a write route load B's row: it is served with RLS
off, the guard's read filter skipping locking reads and its refresh check off, and is
caught when the probe shows B's rows changed (its control, without the mutation, must
change nothing of B's). The table at the end says which. Not part of CI: a full run took
36 min with ``--jobs 2`` on the shared 2-core machine (docs/isolation-mutants.md).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# Served builds with one data wall switched off (applied on top of the mutant).
RLS_OFF = (
    "tenantry/db/bootstrap.py",
    "    app = admin.set(username=app_role, password=app_pw, database=database)\n",
    "    app = admin.set(username=migrator_role, password=migrator_pw, database=database)\n",
)
GUARD_READ_FILTER = (
    "tenantry/isolation/guard.py",
    "        state.statement = _guarded(state.statement)\n        return\n",
    "        return\n",
)
# ... and on the hot read that skips SQLAlchemy's execution (``tenantry.db.direct``), which
# sends the statement the guard hands it: the same filter, forgotten the same way.
GUARD_DIRECT_READ_FILTER = (
    "tenantry/isolation/guard.py",
    "    return _guarded(statement)\n",
    "    return statement\n",
)
GUARD_OFF = GUARD_READ_FILTER
# The guard forgets locking reads (``SELECT ... FOR UPDATE``, which every write route uses
# to load the row it changes): with RLS off too, a write route loads B's row, and only
# the guard's write check stands between it and B's data. Served for the write-check
# mutant; on its own (the control) B's rows must stay unchanged.
LOCKING_READS_UNFILTERED = (
    "tenantry/isolation/guard.py",
    "        state.statement = _guarded(state.statement)\n        return\n",
    "        if state.statement._for_update_arg is None:\n"
    "            state.statement = _guarded(state.statement)\n"
    "        return\n",
)

# ... and skips its refresh check: after the write, the route re-reads server-set
# columns of the row it changed (a unit of work refreshes ``updated_at``); with the check
# on, that refresh of B's row answers 500 and rolls the write back, so B's row never
# changes and nothing shows. Reads of B's rows can still leak through the locking reads
# (a resend copies B's invitation), so the write check is caught by B's rows *changing*.
REFRESHES_UNCHECKED = (
    "tenantry/isolation/guard.py",
    "    if state.is_column_load:\n        _check_refresh(state, ctx, owned)\n        return\n",
    "    if state.is_column_load:\n        return\n",
)

OPERATOR = "client2@globex.test"  # a demo account the probe does not otherwise use

Change = tuple[str, str, str]  # (file under src/, exact old text, new text)


@dataclass(frozen=True)
class Mutant:
    name: str
    what: str
    changes: tuple[Change, ...]
    tests: tuple[str, ...]
    probe_only: tuple[str, ...] = ()  # --only filters for the probe (none: every route)
    serve_with: tuple[Change, ...] = ()  # the other wall switched off for the probe
    # What the probe must report to catch it: "strict" (exit 1 under --strict: a leak or
    # a finding), "leak" (a breach: B's data shown or changed, a wrong role) or
    # "changed" (B's rows changed by A's requests). A mutant
    # served with serve_with also gets a *control* run — serve_with alone — which must
    # not show what catches the mutant: the fault found is the mutant's, not the
    # companion's.
    probe_catches: str = "strict"
    serve_why: str = ""


WALL_TESTS = ("tests/integration/test_wall_guard.py",)
ATTACK = "tests/isolation/test_attack_engine.py"
AUTH = "tests/integration/test_auth_sessions.py"
CURRENT = ("/api/tenant/current", "/api/admin/bookings")

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "guard-read-filter",
        "ORM guard adds no tenant filter to reads",
        (GUARD_READ_FILTER, GUARD_DIRECT_READ_FILTER),
        (
            *WALL_TESTS,
            "tests/integration/test_direct_read.py",
            f"{ATTACK}::test_with_rls_off_the_guard_alone_keeps_tenants_apart",
        ),
        probe_only=("/api/admin/",),
        serve_with=(RLS_OFF,),
    ),
    Mutant(
        "guard-write-check",
        "ORM guard lets a row of another tenant be written",
        (
            (
                "tenantry/isolation/guard.py",
                "    if obj.tenant_id != ctx.tenant_id:\n        _violation(",
                "    if False:\n        _violation(",
            ),
        ),
        WALL_TESTS,
        probe_only=("/api/admin/",),
        serve_with=(RLS_OFF, LOCKING_READS_UNFILTERED, REFRESHES_UNCHECKED),
        probe_catches="changed",
        serve_why="RLS off, the guard's read filter skipping locking reads and its "
        "refresh check off",
    ),
    Mutant(
        "membership-role",
        "the access check finds the membership by user only (another tenant's role, issue 9 #2)",
        (
            (
                "tenantry/auth/dependencies.py",
                "(members.c.user_id == users.c.id) & (members.c.tenant_id == tenant_id)",
                "members.c.user_id == users.c.id",
            ),
        ),
        # The access check is plain SQL (the guard never filtered it), and since
        # migration 0013 RLS shows a user's memberships of other tenants only when no
        # tenant is pinned: RLS alone hides this bug (tests and probe passed with the
        # guard off, 11:45 run) — so it is tested and served with RLS off.
        (f"{ATTACK}::test_with_rls_off_the_guard_alone_keeps_tenants_apart",),
        probe_only=CURRENT,
        serve_with=(RLS_OFF,),
        serve_why="RLS off",
    ),
    Mutant(
        "membership-check",
        "require_tenant lets a removed member in",
        (
            (
                "tenantry/auth/dependencies.py",
                'if access.role is None or access.membership_status != "active":',
                "if access.role is None:",
            ),
        ),
        (AUTH,),
        probe_only=CURRENT,
    ),
    Mutant(
        "host-check",
        "require_tenant ignores the host's tenant",
        (
            (
                "tenantry/auth/dependencies.py",
                "if host_tenant is not None and host_tenant.id != session.tenant_id:",
                "if False:",
            ),
        ),
        (AUTH,),
        probe_only=CURRENT,
    ),
    Mutant(
        "any-signature",
        "tenant_sig verifies whatever the MAC",
        (
            (
                "tenantry/isolation/signing.py",
                '    if not matched:\n        raise SignatureError("bad signature")',
                '    if False:\n        raise SignatureError("bad signature")',
            ),
        ),
        ("tests/unit/test_signing.py", AUTH),
        probe_only=CURRENT,
    ),
    Mutant(
        "signature-expiry",
        "an expired tenant_sig still verifies",
        (
            (
                "tenantry/isolation/signing.py",
                "    if current - claim.issued_at > max_age_s:",
                "    if False:",
            ),
        ),
        ("tests/unit/test_signing.py", AUTH),
        probe_only=CURRENT,
    ),
    Mutant(
        "sig-session-match",
        "a tenant_sig of another tenant or user goes with the session",
        (
            (
                "tenantry/auth/dependencies.py",
                "if claim.user_id != session.user_id or claim.tenant_id != session.tenant_id:",
                "if False:",
            ),
        ),
        (AUTH,),
        probe_only=CURRENT,
    ),
    # Sessions are ended two ways since server-side session rows came in (issue 8): the
    # row is deleted and the user's session version bumped. Removing only the version
    # compare in require_tenant changes nothing anyone can see (tests and probe both
    # passed, 08:40 run) — the mutant is logout-all ending nothing at all.
    Mutant(
        "logout-all",
        "logout-all ends no session (no version bump, session rows kept)",
        (
            (
                "tenantry/auth/service.py",
                "            .values(session_version=User.session_version + 1)\n",
                "            .values(session_version=User.session_version)\n",
            ),
            (
                "tenantry/auth/service.py",
                "        s.execute(delete(UserSession).where(UserSession.user_id == user_id))\n"
                "    return int(version or 0)",
                "    return int(version or 0)",
            ),
        ),
        (AUTH,),
        probe_only=CURRENT,
    ),
    Mutant(
        "suspension",
        "a suspended tenant's members keep working",
        (
            (
                "tenantry/auth/dependencies.py",
                '    if access.tenant_status != "active":',
                "    if False:",
            ),
        ),
        (AUTH,),
        probe_only=CURRENT,
    ),
    Mutant(
        "portal-bookings-owner",
        "a client reads any client's booking",
        (
            (
                "tenantry/bookings/repository.py",
                "    stmt = bookings.select(owner=owner).order_by(*order)",
                "    stmt = bookings.select().order_by(*order)",
            ),
        ),
        ("tests/integration/api/test_bookings.py",),
        probe_only=("/api/portal/bookings",),
    ),
    Mutant(
        "portal-requests-owner",
        "a client reads any client's service request",
        (
            (
                "tenantry/service_requests/repository.py",
                "    stmt = requests.select(owner=owner).order_by(*order)",
                "    stmt = requests.select().order_by(*order)",
            ),
        ),
        ("tests/integration/api/test_service_requests.py",),
        probe_only=("/api/portal/service-requests",),
    ),
    Mutant(
        "portal-invoices-owner",
        "a client lists any client's invoices",
        (
            (
                "tenantry/invoices/repository.py",
                "    stmt = invoices.select(owner=owner).order_by(*order)",
                "    stmt = invoices.select().order_by(*order)",
            ),
        ),
        ("tests/integration/api/test_invoices.py",),
        probe_only=("/api/portal/invoices",),
    ),
    Mutant(
        "portal-attachment-download",
        "a client downloads another client's attachment",
        (
            (
                "tenantry/attachments/service.py",
                "attachment.service_request_id, owner=owner) is None\n",
                "attachment.service_request_id, owner=None) is None\n",
            ),
        ),
        ("tests/integration/api/test_attachments.py",),
        # With the service requests selected too, A's other client makes a request and
        # an attachment of its own before the sweep: the file the mutant gives away.
        probe_only=("/api/portal/attachments", "/api/portal/service-requests"),
    ),
    Mutant(
        "idempotency-user",
        "a stored idempotent response is replayed to another user",
        (
            (
                "tenantry/idempotency/service.py",
                '    return hashlib.sha256(str(user_id).encode() + b"\\n" + fingerprint)',
                '    return hashlib.sha256(b"\\n" + fingerprint)',
            ),
        ),
        ("tests/integration/api/test_idempotency.py",),
        # The probe replays a key across A's two clients on the portal's creations.
        probe_only=("/api/portal/bookings", "/api/portal/service-requests"),
    ),
    Mutant(
        "nested-permissions",
        "an expense's attachments need only attachments.read, not the expense's read "
        "(issue 8, finding 5)",
        (
            (
                "tenantry/permissions/access.py",
                'Depends(RequirePermission("attachments.read", "expenses.read"))',
                'Depends(RequirePermission("attachments.read"))',
            ),
        ),
        (
            "tests/integration/test_privilege_attacks.py::"
            "test_finding_5_staff_with_attachments_and_chat_read_cannot_reach_nested_routes",
            "tests/integration/api/test_permission_table.py",
        ),
        # The probe's nested-route scenario gives A's staff every permission but the
        # expense's read and calls the expense's nested routes.
        probe_only=("/api/admin/expenses/",),
    ),
)


# ---------------------------------------------------------------------- running


@dataclass
class Result:
    name: str
    applied: str = "yes"
    tests: str = "-"
    probe: str = "-"  # pass | leak | findings | error ...
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    control_of: Mutant | None = None
    catches: str = "strict"

    def probe_caught(self) -> bool:
        if self.catches == "changed":
            return self.probe == "changed"
        if self.catches == "leak":
            return self.probe in ("leak", "changed")
        return self.probe in ("leak", "changed", "findings")

    @property
    def caught(self) -> str:
        if self.applied != "yes":
            return "NOT APPLIED"
        if self.control_of is not None:
            return "NO (control)" if self.probe_caught() or self.probe.startswith("error") \
                else "holds"  # fmt: skip
        if self.name == "baseline":
            return "passes" if (self.tests, self.probe) == ("pass", "pass") else "FAILS"
        return "yes" if self.tests == "fail" and self.probe_caught() else "NO"


def copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")
    for part in ("src", "tests", "bench"):
        shutil.copytree(ROOT / part, dest / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def apply(tree: Path, changes: tuple[Change, ...]) -> str | None:
    """Apply every change, or say why one cannot be (its anchor is missing)."""
    for rel, old, new in changes:
        path = tree / "src" / rel
        text = path.read_text() if path.exists() else ""
        found = text.count(old)
        if found != 1:
            return f"{rel}: anchor found {found} times: {old.strip()[:70]!r}"
        path.write_text(text.replace(old, new))
    return None


def env_for(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree}"
    env.pop("DATABASE_URL", None)
    return env


def run_tests(tree: Path, tests: tuple[str, ...], log: Path) -> str:
    # A basetemp of its own: two pytest runs at once must not share one (its database).
    basetemp = tree / "pytest-tmp"
    cmd = [PY, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", f"--basetemp={basetemp}"]
    cmd += list(tests)
    with log.open("w") as out:
        code = subprocess.call(cmd, cwd=tree, env=env_for(tree), stdout=out, stderr=out)  # noqa: S603
    return {0: "pass", 1: "fail"}.get(code, f"error {code}")


def run_probe(tree: Path, only: tuple[str, ...], log: Path) -> str:
    data = tree / "data"
    keys = f"{secrets.token_hex(32)},{secrets.token_hex(32)}"
    env = {**env_for(tree), "TENANTRY_SECRET_KEYS": keys}
    serve_log = log.with_suffix(".serve.log")
    with serve_log.open("w") as out:
        server = subprocess.Popen(  # noqa: S603
            # No job worker: a background job changing B's rows mid-run would be blamed
            # on whichever probe ran then (the control would show the worker, not HTTP).
            [PY, "-m", "tenantry.ops.cli", "serve", "--data-dir", str(data), "--port", "0",
             "--no-job-worker"],
            cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = wait_served(server, serve_log)
        if url is None:
            return "error: server did not start"
        # The operator who suspends acme in the probe's suspension scenario.
        grant = [
            PY, "-m", "tenantry.ops.cli", "operator", "grant", OPERATOR, "--data-dir",
            str(data), "--reason", "mutation check: the probe suspends acme",
        ]  # fmt: skip
        with serve_log.open("a") as out:
            if subprocess.call(grant, cwd=tree, env=env, stdout=out, stderr=out):  # noqa: S603
                return "error: cannot make the operator"
        cmd = [
            PY, "-m", "tenantry.ops.cli", "probe", "--target", url, "--strict",
            "--a-client2", "client2@acme.test", "--leaver", "consultant@demo.test",
            "--shared-member", "consultant@demo.test", "--operator", OPERATOR,
            "--signing-keys", keys, "--report", str(log.with_suffix(".json")),
        ]  # fmt: skip
        for o in only:
            cmd += ["--only", o]
        # The attacker is the unmutated tree: run from the repository, not the copy.
        probe_env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        with log.open("w") as out:
            code = subprocess.call(cmd, cwd=ROOT, env=probe_env, stdout=out, stderr=out)  # noqa: S603
        if code == 1:
            # The probe says which: "FAIL: N leak(s)" or "FAIL (--strict): findings";
            # "changed" when among the leaks B's rows changed.
            text = log.read_text()
            if "leak:other-tenant-data-changed:" in text:
                return "changed"
            return "leak" if re.search(r"^FAIL: \d+ leak", text, re.M) else "findings"
        return {0: "pass"}.get(code, f"error {code}")
    finally:
        stop(server)


def wait_served(server: subprocess.Popen[bytes], log: Path) -> str | None:
    deadline = time.monotonic() + 300
    url = None
    while time.monotonic() < deadline and server.poll() is None:
        if url is None:
            found = re.search(r"serving on (http://\S+)", log.read_text())
            url = found.group(1) if found else None
        if url is not None:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(1)
    return None


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # runs exit hooks: the embedded PostgreSQL stops
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # our own process group
            server.wait(timeout=10)


Job = tuple[Mutant | None, bool]  # (mutant or the baseline, is it the control run)


def run_one(job: Job, out_dir: Path) -> Result:
    mutant, control = job
    if control and mutant is not None:
        return run_control(mutant, out_dir)
    name = mutant.name if mutant else "baseline"
    result = Result(name, catches=mutant.probe_catches if mutant else "strict")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{name}-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        if mutant is not None:
            problem = apply(tree, mutant.changes)
            if problem is not None:
                result.applied, result.notes = "no", [problem]
                return result
            tests = mutant.tests
        else:
            tests = tuple(sorted({t for m in MUTANTS for t in m.tests}))
        result.tests = run_tests(tree, tests, out_dir / f"{name}.tests.log")
        if mutant is not None and mutant.serve_with:
            problem = apply(tree, mutant.serve_with)
            if problem is not None:
                result.notes.append(f"other wall not switched off: {problem}")
        only = mutant.probe_only if mutant else ()
        result.probe = run_probe(tree, only, out_dir / f"{name}.probe.log")
    result.seconds = time.monotonic() - started
    print(f"{name}: tests {result.tests}, probe {result.probe} ({result.seconds:.0f}s)", flush=True)
    return result


def run_control(mutant: Mutant, out_dir: Path) -> Result:
    """The unmutated tree served as the mutant is (``serve_with`` only), same probe."""
    name = f"{mutant.name}.control"
    result = Result(name, control_of=mutant, catches=mutant.probe_catches)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{name}-") as tmp:
        tree = Path(tmp)
        copy_tree(tree)
        problem = apply(tree, mutant.serve_with)
        if problem is not None:
            result.applied, result.notes = "no", [problem]
            return result
        result.probe = run_probe(tree, mutant.probe_only, out_dir / f"{name}.probe.log")
    result.seconds = time.monotonic() - started
    print(f"{name}: probe {result.probe} ({result.seconds:.0f}s)", flush=True)
    return result


def table(results: list[Result]) -> str:
    by_name = {m.name: m for m in MUTANTS}
    lines = [
        "| mutant | what it breaks | tests | strict probe | caught |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        m = r.control_of or by_name.get(r.name)
        if r.control_of is not None and m is not None:
            what = f"control: no mutation, served with {m.serve_why or 'the other wall off'}"
            what += {"leak": " — must not show a leak",
                     "changed": " — must not change B's rows"}.get(m.probe_catches,
                                                                   " — must pass")  # fmt: skip
        elif m is not None:
            what = m.what
            if m.serve_with:
                what += f" (served with {m.serve_why or 'the other data wall off'})"
            if m.probe_catches == "leak":
                what += "; the probe must show a leak"
            elif m.probe_catches == "changed":
                what += "; the probe must show B's rows changed"
        else:
            what = "nothing (unmutated tree)"
        lines.append(f"| {r.name} | {what} | {r.tests} | {r.probe} | {r.caught} |")
    for r in results:
        lines += [f"- {r.name}: {n}" for n in r.notes]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all + baseline)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--baseline-only", action="store_true", help="only the unmutated run")
    parser.add_argument(
        "--no-controls", action="store_true", help="skip the control runs (serve_with alone)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "mutants")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:28} {m.what}")
        return 0
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"unknown mutants: {', '.join(sorted(unknown))}")
    picked = [m for m in MUTANTS if not args.names or m.name in args.names]
    jobs: list[Job] = []
    for m in [] if args.baseline_only else picked:
        jobs.append((m, False))
        if m.serve_with and not args.no_controls:
            jobs.append((m, True))
    if not args.no_baseline:
        jobs.insert(0, (None, False))
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda job: run_one(job, args.out), jobs))
    report = table(results)
    print(report)
    (args.out / "table.md").write_text(report + "\n")
    ok = all(r.caught in ("yes", "passes", "holds") for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

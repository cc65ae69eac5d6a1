"""The house rule, as a lint: business code never writes a tenant filter by hand.

The ORM guard adds ``tenant_id = <context>`` to every statement and RLS enforces it;
a hand-written ``Model.tenant_id == x`` in a business area is either redundant or —
worse — a filter on a tenant id that came from somewhere other than the context.
The places that legitimately name ``tenant_id`` in a comparison are the isolation
machinery, the database layer, tenant lifecycle and the privileged lookups that
resolve a tenant (each listed with its reason).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tenantry"

ALLOWED_DIRS = {
    "isolation": "the walls themselves",
    "db": "engine, bootstrap and base models",
    "migrations": "schema definitions",
    "tenants": "tenant lifecycle and host resolution work on the tenants table",
    "ops": "operator commands (audit, demo data, probe) work across tenants on purpose",
}
ALLOWED_FILES = {
    "auth/dependencies.py": "loads the membership for the tenant being entered",
    "auth/service.py": "the user's own memberships across tenants (member_self_read)",
}


def _compares_tenant_id(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare):
        sides = [node.left, *node.comparators]
        return any(isinstance(s, ast.Attribute) and s.attr == "tenant_id" for s in sides)
    return False


def _call_names_tenant_filter(node: ast.AST) -> bool:
    """``.where(... tenant_id ...)``/``.filter(...)`` arguments that compare tenant_id."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr not in {"where", "filter", "filter_by", "and_"}:
        return False
    if any(k.arg == "tenant_id" for k in node.keywords):
        return True
    return any(_compares_tenant_id(sub) for arg in node.args for sub in ast.walk(arg))


def offending_lines(root: Path = SRC) -> list[str]:
    found: list[tuple[str, int]] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in ALLOWED_DIRS or rel in ALLOWED_FILES:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if _call_names_tenant_filter(node):
                found.append((rel, node.lineno))
    return [f"{rel}:{line}" for rel, line in sorted(set(found))]


def test_business_code_writes_no_tenant_filter_by_hand():
    assert offending_lines() == [], (
        "hand-written tenant filters (the guard and RLS scope queries; see this test's "
        "docstring for where tenant_id may be named)"
    )


def test_the_lint_catches_a_handwritten_filter(tmp_path):
    area = tmp_path / "bookings"
    area.mkdir()
    (area / "repository.py").write_text(
        "def leak(session, tid):\n"
        "    return session.scalars(select(Booking).where(Booking.tenant_id == tid))\n"
        "def leak2(session, tid):\n"
        "    return session.query(Booking).filter_by(tenant_id=tid)\n"
    )
    assert offending_lines(tmp_path) == ["bookings/repository.py:2", "bookings/repository.py:4"]

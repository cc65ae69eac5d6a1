"""Every rule of ``tenantry audit schema`` that reads the database's own catalogue: the
table rules (``rules``) and the privilege rules (``privileges``). The server's password
rules need the admin connection and are run by the command (``privileges.auth_findings``).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from tenantry.audit.finding import Finding
from tenantry.audit.privileges import privilege_findings
from tenantry.audit.rules import audit_schema as table_findings


def audit_schema(bind: Engine | Connection) -> list[Finding]:
    """Audit the database behind ``bind``; [] means clean."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return _all(conn)
    return _all(bind)


def _all(conn: Connection) -> list[Finding]:
    return sorted([*table_findings(conn), *privilege_findings(conn)])

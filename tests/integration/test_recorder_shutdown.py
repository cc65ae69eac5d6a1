"""A server that stops writes the operator view's buffer first.

The recorder writes buffered security events and traffic counts every ``interval_s``
from its own thread; whatever was buffered when a worker stops (a deploy, a scale-down)
must reach the table, not die with the thread."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tenantry.app import create_app
from tenantry.db.engine import Database
from tenantry.observability.models import OpsSecurityEvent
from tenantry.settings import Settings
from tests.factories import make_tenant
from tests.helpers import login


def _codes_of(db: Database, request_id: str) -> list[str]:
    with db.system_session(reason="test: read the operator view's rows") as s:
        return list(
            s.scalars(
                select(OpsSecurityEvent.code).where(OpsSecurityEvent.request_id == request_id)
            )
        )


def test_the_app_writes_buffered_security_events_when_it_shuts_down(
    settings: Settings, db: Database
) -> None:
    app = create_app(settings, db)  # the security sink records into the latest app built
    app.state.observability.recorder.interval_s = 3600  # no periodic write in this test
    tenant = make_tenant(db, roles=("owner",))
    with TestClient(app) as c:  # runs the app's lifespan: start-up, then shutdown at exit
        login(c, tenant["owner"])
        sig = c.cookies.get("tenant_sig")
        c.cookies.set("tenant_sig", sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"))
        refused = c.get("/api/tenant/current")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "tenant_sig_invalid"
        request_id = refused.headers["x-request-id"]
        assert _codes_of(db, request_id) == []  # buffered, not written yet
    assert _codes_of(db, request_id) == ["tenant_sig_invalid"]

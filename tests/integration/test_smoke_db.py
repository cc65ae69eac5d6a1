from sqlalchemy import select

from tenantry.auth.models import Membership
from tenantry.isolation.context import TenantContext, tenant_context


def test_member_rows_are_visible_only_inside_their_tenant(db, tenant_a, tenant_b):
    with tenant_context(TenantContext(tenant_id=tenant_a.id)), db.session() as s:
        rows = s.scalars(select(Membership)).all()
    assert {m.tenant_id for m in rows} == {tenant_a.id}
    assert len(rows) == 4
